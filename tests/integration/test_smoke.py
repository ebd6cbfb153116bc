from __future__ import annotations

import httpx

from tests.conftest import Demo, make_message


def test_demo_message_is_accepted_and_lands_in_its_dataset(demo: Demo) -> None:
    answer = httpx.post(
        demo.inlet_url, json=make_message(demo.schema_id), params={"syncValidation": "true"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["inletId"] == demo.inlet_id
    assert body["syncValidation"] == {"status": "pass"}
    with demo.server.admin() as admin:
        records = admin.get(f"/api/v1/datasets/{demo.dataset_id}/records").json()["records"]
    assert [r["xactionId"] for r in records] == [body["xactionId"]]
