"""``wayfare serve`` on an address beyond loopback: refused without an admin token, saying
how to go on, unless ``--insecure-no-admin-token`` asks for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Server, free_port, refused_start

pytestmark = pytest.mark.integration

REFUSED = "error: refusing to serve on 0.0.0.0 without an admin token"


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--host", "0.0.0.0"], {}), ([], {"WAYFARE_HOST": "0.0.0.0"})],
    ids=["flag", "environment"],
)
def test_serving_beyond_loopback_without_an_admin_token_is_refused(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    data_dir = tmp_path / "data"
    refused = refused_start(*args, "--port", str(free_port()), "--data-dir", str(data_dir), env=env)
    assert refused.returncode == 1, refused.stderr
    assert REFUSED in refused.stderr
    assert "--insecure-no-admin-token" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not data_dir.exists()  # refused before anything was made


def test_insecure_no_admin_token_serves_beyond_loopback_and_says_so(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", extra_args=["--host", "0.0.0.0", "--insecure-no-admin-token"])
    try:
        srv.start()
        with srv.admin() as admin:
            assert admin.get("/api/v1/org").status_code == 200  # open, as asked
    finally:
        srv.stop()
    log = (tmp_path / f"server-{srv.port}.log").read_text()
    assert "the admin API on 0.0.0.0 takes calls without a token" in log
