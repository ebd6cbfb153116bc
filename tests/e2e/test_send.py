"""`wayfare send` as a data team runs it: rows of a CSV or JSON-lines file filled into an
event's payload preview and sent to a real server; good rows land and match the event, bad
rows are reported with their line numbers."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Demo, Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org, record_count, records, start_server
from wayfare.registry.demo import DEMO_EVENT

pytestmark = pytest.mark.integration

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("WAYFARE_")}
PERSON = "_instance_name.person"
MAPS = [
    f"--map={PERSON}.firstName=first",
    f"--map={PERSON}.lastName=last",
    f"--map={PERSON}.emailAddress=email",
    "--map=identityMap.Email[0].id=email",
    f"--map={PERSON}.birthYear=year",
    f"--omit={PERSON}.gender",
]

GOOD_AND_BAD = """\
first,last,email,year
Ada,Lovelace,ada@example.com,1990
Bob,Bad Email,not-an-email,1985
Cy,Bad Year,cy@example.com,abc
Di,No Identity,,1970
Ed,Wood,ed@example.com,1960
Fay,Wray,fay@example.com,1907.0
"""


@pytest.fixture(scope="module")
def send_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("send"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def demo(send_server: Server) -> Demo:
    """The demo (with its newsletter_signup event) in an org of its own."""
    return apply_demo_to(send_server, new_org())


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wayfare", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=90,
        env=CLEAN_ENV,
        check=False,
    )


def send(demo: Demo, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run("send", "--inlet-url", demo.inlet_url, "--org", demo.org, *args, stdin=stdin)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def matched(demo: Demo, count: int) -> list[dict[str, Any]]:
    """The event's matching outcomes, once ``count`` of them are recorded."""

    def found() -> list[dict[str, Any]] | None:
        with demo.server.admin(demo.org) as admin:
            body = admin.get(f"/api/v1/events/{DEMO_EVENT}/messages", params={"limit": 100})
        messages: list[dict[str, Any]] = body.json()["messages"]
        return messages if len(messages) >= count else None

    result: list[dict[str, Any]] = wait_until(found)
    return result


def people(demo: Demo) -> dict[str, dict[str, Any]]:
    """What landed in the dataset, by email."""
    landed = {}
    for record in records(demo):
        entity = record["message"]["body"]["xdmEntity"]
        landed[entity["identityMap"]["Email"][0]["id"]] = entity
    return landed


def test_good_rows_land_and_bad_rows_are_reported_with_their_line(
    demo: Demo, tmp_path: Path
) -> None:
    source = write(tmp_path / "people.csv", GOOD_AND_BAD)
    rejects = tmp_path / "rejects.csv"
    result = send(
        demo, "--event", DEMO_EVENT, "--input", str(source), *MAPS, "--rejects", str(rejects)
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "read 6, sent 5, accepted 3, rejected 3, retried 0" in result.stdout
    lines = [line.strip() for line in result.stderr.splitlines() if "line " in line]
    assert lines == [
        'line 3: #/_instance_name/person/emailAddress: "not-an-email" is not a "email" (format)',
        "line 4: year → _instance_name.person.birthYear: 'abc' is not an integer",
        'line 5: #/identityMap/Email/0: "id" is a required property (required)',
    ]

    assert record_count(demo) == 3
    landed = people(demo)
    assert set(landed) == {"ada@example.com", "ed@example.com", "fay@example.com"}
    assert landed["ada@example.com"]["_instance_name"]["person"] == {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "emailAddress": "ada@example.com",
        "birthYear": 1990,
    }
    assert landed["fay@example.com"]["_instance_name"]["person"]["birthYear"] == 1907
    outcomes = matched(demo, 3)
    assert sorted((m["matched"], m["identity"]) for m in outcomes) == [
        (True, "ada@example.com"),
        (True, "ed@example.com"),
        (True, "fay@example.com"),
    ]

    with rejects.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line"], r["first"], r["email"], r["year"]) for r in rows] == [
        ("3", "Bob", "not-an-email", "1985"),
        ("4", "Cy", "cy@example.com", "abc"),
        ("5", "Di", "", "1970"),
    ]
    assert list(rows[0]) == ["line", "first", "last", "email", "year", "reason"]
    assert "(format)" in rows[0]["reason"]
    assert "is not an integer" in rows[1]["reason"]
    assert "required" in rows[2]["reason"]


def test_all_good_rows_exit_zero_and_match(demo: Demo, tmp_path: Path) -> None:
    rows = "first,last,email,year\n" + "".join(
        f"P{i},L{i},p{i}@example.com,{1950 + i}\n" for i in range(40)
    )
    source = write(tmp_path / "many.csv", rows)
    result = send(
        demo,
        "--event",
        DEMO_EVENT,
        "--input",
        str(source),
        *MAPS,
        "--batch-size",
        "7",
        "--concurrency",
        "3",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "read 40, sent 40, accepted 40, rejected 0, retried 0" in result.stdout
    assert record_count(demo) == 40
    assert all(m["matched"] for m in matched(demo, 40))


def test_dry_run_prints_the_filled_messages_and_sends_nothing(demo: Demo, tmp_path: Path) -> None:
    with demo.server.admin(demo.org) as admin:
        event_id = admin.get(f"/api/v1/events/{DEMO_EVENT}").json()["eventID"]
    source = write(
        tmp_path / "people.csv",
        "first,last,email,year\nAda,Lovelace,ada@example.com,1990\nEd,Wood,ed@example.com,1960\n",
    )
    result = send(demo, "--event", DEMO_EVENT, "--input", str(source), *MAPS, "--dry-run")
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(messages) == 2
    first = messages[0]
    assert first["header"]["schemaRef"]["id"] == demo.schema_id
    assert first["header"]["imsOrgId"] == demo.org
    assert first["header"]["msgId"] != messages[1]["header"]["msgId"]
    entity = first["body"]["xdmEntity"]
    assert entity["identityMap"] == {"Email": [{"id": "ada@example.com"}]}
    assert entity["_instance_name"]["person"] == {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "birthYear": 1990,
        "emailAddress": "ada@example.com",
    }
    assert entity["_experience"]["campaign"]["orchestration"]["eventID"] == event_id
    assert entity["_id"] != "string" and entity["timestamp"].endswith("Z")
    assert record_count(demo) == 0


def test_dry_run_reports_rows_that_cannot_be_filled(demo: Demo, tmp_path: Path) -> None:
    source = write(tmp_path / "people.csv", GOOD_AND_BAD)
    result = send(demo, "--event", DEMO_EVENT, "--input", str(source), *MAPS, "--dry-run")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "line 4: year → _instance_name.person.birthYear: 'abc' is not an integer"
    )
    assert len(result.stdout.splitlines()) == 5  # the others, as they would be sent
    assert record_count(demo) == 0


def test_an_unmapped_placeholder_stops_before_anything_is_sent(demo: Demo, tmp_path: Path) -> None:
    source = write(tmp_path / "people.csv", GOOD_AND_BAD)
    maps = [m for m in MAPS if "lastName" not in m and "gender" not in m]
    result = send(demo, "--event", DEMO_EVENT, "--input", str(source), *maps)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not mapped" in result.stderr
    listed = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert listed == [f"{PERSON}.lastName", f"{PERSON}.gender"]
    assert result.stdout == ""
    assert record_count(demo) == 0


def test_json_lines_with_dotted_fields(demo: Demo, tmp_path: Path) -> None:
    lines = [
        {
            "name": {"first": "Ada", "last": "Lovelace"},
            "contact": {"email": "ada@example.com"},
            "born": 1990,
            "sex": "female",
        },
        {
            "name": {"first": "Bob", "last": "B"},
            "contact": {"email": "bob@example.com"},
            "born": "1980",
            "sex": "male",
        },
        "not json {",
        {
            "name": {"first": "Cy", "last": "C"},
            "contact": {"email": "cy@example.com"},
            "born": 1.5,
            "sex": "male",
        },
        {
            "name": {"first": "Di", "last": "D"},
            "contact": {"email": "di@example.com"},
            "born": 1970,
            "sex": "robot",
        },
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    source = write(tmp_path / "people.jsonl", text)
    result = send(
        demo,
        "--event",
        DEMO_EVENT,
        "--input",
        str(source),
        f"--map={PERSON}.firstName=name.first",
        f"--map={PERSON}.lastName=name.last",
        f"--map={PERSON}.emailAddress=contact.email",
        "--map=identityMap.Email[0].id=contact.email",
        f"--map={PERSON}.birthYear=born",
        f"--map={PERSON}.gender=sex",
        "--rejects",
        str(tmp_path / "rejects.jsonl"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "read 5, sent 4, accepted 2, rejected 3, retried 0" in result.stdout
    stderr = result.stderr
    assert "line 3: not valid JSON" in stderr
    assert "line 4: #/_instance_name/person/birthYear" in stderr
    assert "line 5: #/_instance_name/person/gender" in stderr
    landed = people(demo)
    assert set(landed) == {"ada@example.com", "bob@example.com"}
    assert landed["bob@example.com"]["_instance_name"]["person"] == {
        "firstName": "Bob",
        "lastName": "B",
        "gender": "male",
        "birthYear": 1980,
        "emailAddress": "bob@example.com",
    }
    rejected = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejected] == [3, 4, 5]
    assert rejected[2]["sex"] == "robot" and "enum" in rejected[2]["reason"]


def test_a_template_saved_from_the_event_preview(demo: Demo, tmp_path: Path) -> None:
    preview = run(
        "events", "preview", DEMO_EVENT, "--json", "--url", demo.server.url, "--org", demo.org
    )
    assert preview.returncode == 0, preview.stderr
    template = write(tmp_path / "template.json", preview.stdout)
    assert json.loads(preview.stdout)["header"]["source"] == {"name": "Journeys"}
    source = write(
        tmp_path / "people.csv",
        "first,last,email,year\nAda,Lovelace,ada@example.com,1990\nEd,Wood,ed@example.com,1960\n",
    )
    result = send(demo, "--template", str(template), "--input", str(source), *MAPS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "read 2, sent 2, accepted 2, rejected 0, retried 0" in result.stdout
    assert sorted(m["identity"] for m in matched(demo, 2) if m["matched"]) == [
        "ada@example.com",
        "ed@example.com",
    ]
    shown = run("events", "messages", DEMO_EVENT, "--url", demo.server.url, "--org", demo.org)
    assert shown.returncode == 0, shown.stderr
    assert "matched  ada@example.com" in shown.stdout
    assert "matched  ed@example.com" in shown.stdout


def test_a_yaml_mapping_file_and_standard_input(demo: Demo, tmp_path: Path) -> None:
    mapping = write(
        tmp_path / "mapping.yaml",
        f"""\
{PERSON}.firstName: first
{PERSON}.lastName: last
{PERSON}.emailAddress: email
"identityMap.Email[0].id": email
{PERSON}.birthYear: year
{PERSON}.gender: gender
""",
    )
    rows = "first,last,email,year,gender\nAda,Lovelace,ada@example.com,1990,female\n"
    result = send(
        demo,
        "--event",
        DEMO_EVENT,
        "--input",
        "-",
        "--format",
        "csv",
        "--mapping",
        str(mapping),
        stdin=rows,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "read 1, sent 1, accepted 1, rejected 0, retried 0" in result.stdout
    (entity,) = people(demo).values()
    assert entity["_instance_name"]["person"]["gender"] == "female"
    assert entity["_instance_name"]["person"]["birthYear"] == 1990


def test_map_options_win_over_the_mapping_file(demo: Demo, tmp_path: Path) -> None:
    mapping = write(tmp_path / "mapping.json", json.dumps({f"{PERSON}.firstName": "nope"}))
    source = write(
        tmp_path / "people.csv", "first,last,email,year\nAda,Lovelace,ada@example.com,1990\n"
    )
    result = send(
        demo, "--event", DEMO_EVENT, "--input", str(source), "--mapping", str(mapping), *MAPS
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (entity,) = people(demo).values()
    assert entity["_instance_name"]["person"]["firstName"] == "Ada"


def test_usage_errors(demo: Demo, tmp_path: Path) -> None:
    source = write(tmp_path / "people.csv", "first\nAda\n")
    neither = send(demo, "--input", str(source))
    assert neither.returncode == 2 and "exactly one of --template" in neither.stderr
    bad_map = send(demo, "--event", DEMO_EVENT, "--input", str(source), "--map", "no-equals")
    assert bad_map.returncode == 2 and "expected PATH=FIELD" in bad_map.stderr
    bad_omit = send(
        demo, "--event", DEMO_EVENT, "--input", str(source), "--omit", f"{PERSON}.shoeSize"
    )
    assert bad_omit.returncode == 2 and "no such field" in bad_omit.stderr
    unknown = send(demo, "--event", "nope", "--input", str(source))
    assert unknown.returncode == 1 and "nope" in unknown.stderr
    assert record_count(demo) == 0


def test_the_org_may_come_before_the_command_and_is_required(demo: Demo, tmp_path: Path) -> None:
    source = write(tmp_path / "one.csv", "first,last,email,year\nAda,L,ada@example.com,1990\n")
    args = ["--inlet-url", demo.inlet_url, "--event", DEMO_EVENT, "--input", str(source), *MAPS]
    result = run("--org", demo.org, "send", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "read 1, sent 1, accepted 1, rejected 0, retried 0" in result.stdout
    missing = run("send", *args)
    assert missing.returncode == 2
    assert "--org" in missing.stderr
