"""The `wayfare` command line, run as a user runs it: a subprocess against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server, free_port, make_message, wait_until
from tests.integration.conftest import apply_demo_to, new_org

pytestmark = pytest.mark.integration

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("WAYFARE_")}

SCHEMA_YAML = """\
kind: Schema
name: signups
title: Signups
class: ExperienceEvent
fieldGroups: [orchestration-eventid]
required: [identityMap]
fields:
  person:
    type: object
    properties:
      birthYear: {type: integer}
      emailAddress: {type: string, format: email}
"""

INLET_YAML = """\
kind: Inlet
name: website
description: Signups from the web site
sourceId: web
"""


def wayfare(*args: str, server: Server | None = None, org: str | None = None) -> Any:
    """Run the CLI; ``--url``/``--org`` go after the command's own arguments."""
    command = [sys.executable, "-m", "wayfare", *args]
    if server is not None:
        command += ["--url", server.url]
    if org is not None:
        command += ["--org", org]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=CLEAN_ENV, check=False
    )


def ok(result: Any) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    out: str = result.stdout
    return out


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("cli") / "data").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "00-org.yaml").write_text("kind: Org\ntenantId: shop\n")
    (folder / "10-schemas.yaml").write_text(SCHEMA_YAML)
    (folder / "20-inlets.yml").write_text(INLET_YAML)
    (folder / "notes.txt").write_text("not a definition")
    return folder


def test_apply_twice_then_list(cli_server: Server, config_dir: Path) -> None:
    org = new_org()
    first = ok(wayfare("apply", str(config_dir), server=cli_server, org=org))
    lines = [line.split() for line in first.strip().splitlines()]
    assert [(parts[0], parts[1], parts[2]) for parts in lines] == [
        ("Org", org, "updated"),
        ("Schema", "signups", "created"),
        ("Inlet", "website", "created"),
    ]
    second = ok(wayfare("apply", str(config_dir), server=cli_server, org=org))
    again = second.strip().splitlines()
    assert len(again) == 3
    assert all(line.split()[2] == "unchanged" for line in again), second
    # --json gives the raw answer
    raw = json.loads(ok(wayfare("apply", str(config_dir), "--json", server=cli_server, org=org)))
    assert {a["action"] for a in raw["applied"]} == {"unchanged"}

    schemas = ok(wayfare("schemas", "list", server=cli_server, org=org))
    assert "signups" in schemas
    assert "https://ns.adobe.com/shop/schemas/" in schemas
    (row,) = [line for line in schemas.splitlines() if line.startswith("signups")]
    assert row.split()[1] == "1"
    inlets = ok(wayfare("inlets", "list", server=cli_server, org=org))
    assert "website" in inlets
    assert f"{cli_server.url}/collection/" in inlets
    listed = json.loads(ok(wayfare("inlets", "list", "--json", server=cli_server, org=org)))
    (inlet,) = listed["inlets"]
    assert inlet["name"] == "website"
    # an org without anything prints (none)
    assert ok(wayfare("inlets", "list", server=cli_server, org=new_org())).strip() == "(none)"


def test_apply_accepts_a_document_without_org(cli_server: Server, tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(SCHEMA_YAML + "---\n" + INLET_YAML)
    org = new_org()
    out = ok(wayfare("apply", str(tmp_path / "all.yaml"), server=cli_server, org=org))
    assert [line.split()[2] for line in out.strip().splitlines()] == ["created", "created"]


def test_apply_sends_the_documents_to_the_org_they_name(cli_server: Server, tmp_path: Path) -> None:
    org = new_org()
    (tmp_path / "org.yaml").write_text(f"kind: Org\nname: {org}\n")
    (tmp_path / "inlets.yaml").write_text(INLET_YAML)
    out = ok(wayfare("apply", str(tmp_path), server=cli_server))  # no --org
    assert [line.split()[:3] for line in out.strip().splitlines()] == [
        ["Org", org, "unchanged"],
        ["Inlet", "website", "created"],
    ]
    assert "website" in ok(wayfare("inlets", "list", server=cli_server, org=org))
    # --org says otherwise: the server refuses documents for another org
    refused = wayfare("apply", str(tmp_path), server=cli_server, org=new_org())
    assert refused.returncode != 0
    assert f"--org {org}" in refused.stderr


def test_inlets_create_with_auth_prints_a_working_token(cli_server: Server) -> None:
    demo = apply_demo_to(cli_server, new_org())
    out = ok(
        wayfare("inlets", "create", "--name", "secured", "--auth", server=cli_server, org=demo.org)
    )
    assert "created inlet secured" in out
    (token_line,) = [line for line in out.splitlines() if "access token" in line]
    token = token_line.rsplit(" ", 1)[1]
    (url_line,) = [line for line in out.splitlines() if line.startswith("created inlet")]
    url = url_line.rsplit(" ", 1)[1]
    message = make_message(demo.schema_id, org=demo.org)
    refused = httpx.post(url, json=message)
    assert refused.status_code == 401
    accepted = httpx.post(url, json=message, headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 200, accepted.text
    # another token, then revoke them all
    issued = ok(wayfare("inlets", "token", "secured", server=cli_server, org=demo.org)).strip()
    assert issued.startswith("wf_") and issued != token
    revoked = ok(wayfare("inlets", "token", "secured", "--revoke", server=cli_server, org=demo.org))
    assert "revoked 2 token(s)" in revoked
    again = httpx.post(url, json=message, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 403


def test_disable_and_enable_an_inlet(cli_server: Server) -> None:
    demo = apply_demo_to(cli_server, new_org())
    out = ok(wayfare("inlets", "disable", "demo-inlet", server=cli_server, org=demo.org))
    assert "disabled" in out
    message = make_message(demo.schema_id, org=demo.org)
    assert httpx.post(demo.inlet_url, json=message).status_code == 400
    ok(wayfare("inlets", "enable", demo.inlet_id, server=cli_server, org=demo.org))
    assert httpx.post(demo.inlet_url, json=message).status_code == 200


def test_failures_shows_the_reason(cli_server: Server) -> None:
    demo = apply_demo_to(cli_server, new_org())
    assert ok(wayfare("failures", server=cli_server, org=demo.org)).strip() == "no failed records"
    bad = make_message(demo.schema_id, org=demo.org, birthYear="nineteen-ninety")
    answer = httpx.post(demo.inlet_url, json=bad)
    assert answer.status_code == 200, answer.text
    out = ok(wayfare("failures", server=cli_server, org=demo.org))
    assert answer.json()["xactionId"] in out
    (reason,) = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert reason.startswith("#/_instance_name/person/birthYear:")
    assert reason.endswith("(type)")
    filtered = ok(
        wayfare("failures", "--inlet", "demo-inlet", "-n", "5", server=cli_server, org=demo.org)
    )
    assert answer.json()["xactionId"] in filtered


def test_datasets_tail_prints_the_last_records_as_json_lines(cli_server: Server) -> None:
    demo = apply_demo_to(cli_server, new_org())
    sent = []
    for year in (1990, 1991, 1992):
        message = make_message(demo.schema_id, org=demo.org, birthYear=year)
        answer = httpx.post(demo.inlet_url, json=message, params={"syncValidation": "true"})
        assert answer.status_code == 200, answer.text
        sent.append(answer.json()["xactionId"])
    out = ok(
        wayfare("datasets", "tail", demo.dataset_id, "-n", "2", server=cli_server, org=demo.org)
    )
    lines = out.strip().splitlines()
    assert len(lines) == 2
    tail = [json.loads(line) for line in lines]
    assert [r["xactionId"] for r in tail] == sent[1:]
    years = [
        r["message"]["body"]["xdmEntity"]["_instance_name"]["person"]["birthYear"] for r in tail
    ]
    assert years == [1991, 1992]
    listed = ok(wayfare("datasets", "list", server=cli_server, org=demo.org))
    assert demo.dataset_id in listed
    shown = json.loads(
        ok(wayfare("datasets", "show", demo.dataset_id, server=cli_server, org=demo.org))
    )
    assert shown["recordCount"] == 3


def test_cli_errors_exit_non_zero_with_a_message_on_stderr(cli_server: Server) -> None:
    org = new_org()
    unknown = wayfare("inlets", "show", "no-such-inlet", server=cli_server, org=org)
    assert unknown.returncode != 0
    assert "error:" in unknown.stderr
    assert "no-such-inlet" in unknown.stderr
    assert "404" in unknown.stderr
    assert unknown.stdout == ""

    bad = wayfare("datasets", "tail", "nope", server=cli_server, org=org)
    assert bad.returncode != 0
    assert "error:" in bad.stderr

    unreachable = wayfare("schemas", "list", "--url", f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode != 0
    assert "cannot reach" in unreachable.stderr


def test_schema_create_reports_violations(cli_server: Server, tmp_path: Path) -> None:
    definition = tmp_path / "bad.yaml"
    definition.write_text("name: broken\nclass: Spaceship\n")
    result = wayfare("schemas", "create", str(definition), server=cli_server, org=new_org())
    assert result.returncode != 0
    assert "/class" in result.stderr


def test_serve_demo_prints_a_curl_command_that_works(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wayfare",
                "serve",
                "--demo",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=CLEAN_ENV,
        )
    try:
        assert process.stdout is not None
        printed: list[str] = []
        for _ in range(1_000):  # bounded: the banner is a few dozen lines
            line = process.stdout.readline().decode()
            if not line:
                break
            printed.append(line.rstrip("\n"))
            if line.startswith("Then look at it"):
                break
        output = "\n".join(printed)
        assert "Then look at it" in output, output + log.read_text()
        (url_line,) = [line for line in printed if "inlet URL:" in line]
        inlet_url = url_line.split("inlet URL:", 1)[1].strip()
        assert inlet_url.startswith(f"http://127.0.0.1:{port}/collection/")
        start = next(i for i, line in enumerate(printed) if line.startswith("curl "))
        end = printed.index("", start)
        curl = "\n".join(printed[start:end])
        assert inlet_url in curl

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=30)
        command = curl.replace("curl ", "curl -s -w '\\n%{http_code}' ", 1)
        result = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        body_text, status = result.stdout.rsplit("\n", 1)
        assert status == "200", result.stdout
        body = json.loads(body_text)
        assert set(body) == {"inletId", "xactionId", "receivedTimeMs", "syncValidation"}
        assert body["syncValidation"] == {"status": "pass"}
        assert inlet_url.endswith(body["inletId"])

        # the next step the banner suggests shows the record
        (tail_line,) = [line for line in printed if line.startswith("Then look at it")]
        dataset_id = tail_line.rsplit(" ", 1)[1]
        server = Server(tmp_path / "data", port=port)
        tail = ok(wayfare("datasets", "tail", dataset_id, server=server))
        assert [json.loads(line)["xactionId"] for line in tail.strip().splitlines()] == [
            body["xactionId"]
        ]
    finally:
        process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
