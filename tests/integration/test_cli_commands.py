"""The command line over its whole tree: every command has a help text with an example,
``--json`` prints JSON wherever it is offered, reports follow the journey's graph, and
``journeys steps --identity`` tells what happened to one person, with times."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
import yaml
from click.testing import CliRunner, Result

from tests.conftest import Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org, serving
from tests.integration.journey_support import (
    END,
    SHOP_SCHEMA,
    Shop,
    command,
    ev,
    on_cart,
    publish,
    report,
    save,
    send,
    setup_shop,
    shop_event,
    shop_message,
    wait_for_report,
)
from wayfare.cli import main
from wayfare.registry.demo import DEMO_INLET

pytestmark = pytest.mark.integration

NO_WAYFARE_ENV: dict[str, str | None] = {k: None for k in os.environ if k.startswith("WAYFARE_")}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def commands(group: click.Group = main, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every visible command and group below ``group``, by its path (``journeys steps``)."""
    for name, cmd in sorted(group.commands.items()):
        if cmd.hidden:
            continue
        path = f"{prefix}{name}"
        yield path, cmd
        if isinstance(cmd, click.Group):
            yield from commands(cmd, path + " ")


def offers_json(cmd: click.Command) -> bool:
    return any("--json" in p.opts for p in cmd.params)


@pytest.mark.parametrize(("path", "cmd"), list(commands()), ids=[p for p, _ in commands()])
def test_every_command_has_a_help_text_with_an_example(path: str, cmd: click.Command) -> None:
    text = CliRunner().invoke(main, [*path.split(), "--help"], env=NO_WAYFARE_ENV)
    assert text.exit_code == 0, text.output
    assert cmd.help and cmd.help.strip(), path
    assert re.search(r"\n\s*Examples?:\n\s+wayfare ", text.output), text.output


def test_the_groups_help_documents_exit_codes_and_shared_options() -> None:
    text = CliRunner().invoke(main, ["--help"], env=NO_WAYFARE_ENV).output
    assert "Exit codes:" in text
    for code in ("0  ", "1  ", "2  "):
        assert f"\n    {code}" in text
    for option in ("--url", "--org", "--admin-token", "WAYFARE_URL", "WAYFARE_ORG"):
        assert option in text
    apply_help = CliRunner().invoke(main, ["apply", "--help"]).output
    for kind in ("Org", "Schema", "Dataset", "Inlet", "Event", "Journey"):
        assert kind in apply_help
    assert "--workers" in CliRunner().invoke(main, ["serve", "--help"]).output
    assert CliRunner().invoke(main, ["no-such-command"]).exit_code == 2


# against a running server

LIVE, DRAFT, PAUSED = "live-j", "draft-j", "paused-j"


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # test-mode waits last at most one second; one failed step pauses a journey
    env = {"WAYFARE_TEST_WAIT_SECONDS": "1", "WAYFARE_JOURNEY_FAILURE_LIMIT": "1"}
    with serving(tmp_path_factory.mktemp("cli"), env=env) as srv:
        yield srv


@pytest.fixture
def shop(cli_server: Server) -> Shop:
    return setup_shop(apply_demo_to(cli_server, new_org()))


def run(shop: Shop, *args: str) -> Result:
    """The CLI in this process, with the shared options after the command, as users do."""
    argv = [*args, "--url", shop.demo.server.url, "--org", shop.org]
    return CliRunner().invoke(main, argv, env=NO_WAYFARE_ENV)


def ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception}"
    return result.stdout


def instant(name: str) -> dict[str, Any]:
    return on_cart(name, {"hi": {"type": "log", "message": "hi", "next": "done"}, "done": END})


@dataclass
class Stage:
    """An org with the demo and the shop, where a command's arguments are made."""

    shop: Shop
    folder: Path

    def live(self) -> str:
        publish(self.shop, instant(LIVE))
        return LIVE

    def draft(self) -> str:
        """A draft in test mode."""
        save(self.shop, instant(DRAFT))
        command(self.shop, DRAFT, "test-mode", {"enabled": True})
        return DRAFT

    def file(self, name: str, content: Any) -> str:
        path = self.folder / name
        path.write_text(yaml.safe_dump(content))
        return str(path)

    def person(self) -> str:
        """An identity of a person of the identity graph."""
        send(self.shop, shop_message(self.shop, "cart", "linked@example.com"))
        params = {"namespace": "Email", "id": "linked@example.com"}
        with self.shop.admin() as admin:
            wait_until(lambda: admin.get("/api/v1/profiles", params=params).status_code == 200)
        return "Email:linked@example.com"

    def paused(self) -> str:
        """A journey the engine paused: its wait fails (1e20 ms is no date)."""
        hold = {"type": "wait", "until": ev("cart", "cart.total"), "next": "done"}
        publish(self.shop, on_cart(PAUSED, {"hold": hold, "done": END}))
        send(self.shop, shop_message(self.shop, "cart", "p@example.com", total=1e20))
        wait_until(lambda: bool(report(self.shop, PAUSED)["paused"]), timeout=10)
        return PAUSED

    def audience(self) -> str:
        """An audience of the shop's org."""
        condition = {"name": "carts", "condition": "count(cart in last 1 day) >= 1"}
        with self.shop.admin() as admin:
            assert admin.post("/api/v1/audiences", json=condition).status_code == 201
        return "carts"


@pytest.fixture
def stage(shop: Shop, tmp_path: Path) -> Stage:
    return Stage(shop, tmp_path)


def _schema_v2() -> dict[str, Any]:
    definition = {k: v for k, v in SHOP_SCHEMA.items() if k != "kind"}
    return {**definition, "fields": {**definition["fields"], "note": {"type": "string"}}}


def _new_schema() -> dict[str, Any]:
    return {"name": "signups", "class": "ExperienceEvent", "fields": {"x": {"type": "string"}}}


def _new_event() -> dict[str, Any]:
    return {k: v for k, v in shop_event("browse", "browse").items() if k != "kind"}


def _dataset(stage: Stage) -> str:
    return stage.shop.demo.dataset_id


ARGUMENTS: dict[str, Callable[[Stage], list[str]]] = {
    "apply": lambda s: [s.file("inlet.yaml", {"kind": "Inlet", "name": "more"})],
    "failures": lambda s: ["-n", "5"],
    "orgs list": lambda s: [],
    "orgs show": lambda s: [],
    "schemas list": lambda s: [],
    "schemas show": lambda s: ["shop"],
    "schemas create": lambda s: [s.file("schema.yaml", _new_schema())],
    "schemas update": lambda s: ["shop", s.file("shop.yaml", _schema_v2())],
    "datasets list": lambda s: [],
    "datasets show": lambda s: [_dataset(s)],
    "datasets create": lambda s: ["crm", "--schema", "shop", "--profile"],
    "datasets enable-profile": lambda s: [_dataset(s)],
    "datasets retention": lambda s: [_dataset(s), "30"],
    "inlets list": lambda s: [],
    "inlets show": lambda s: [DEMO_INLET],
    "inlets create": lambda s: ["--name", "secured", "--auth"],
    "inlets disable": lambda s: [DEMO_INLET],
    "inlets enable": lambda s: [DEMO_INLET],
    "inlets delete": lambda s: [DEMO_INLET],
    "inlets token": lambda s: [DEMO_INLET, "--revoke"],
    "events list": lambda s: [],
    "events show": lambda s: ["cart"],
    "events create": lambda s: [s.file("event.yaml", _new_event())],
    "events delete": lambda s: ["purchase"],
    "events preview": lambda s: ["cart"],
    "events messages": lambda s: ["cart"],
    "journeys list": lambda s: [],
    "journeys show": lambda s: [s.live()],
    "journeys save": lambda s: [s.file("journey.yaml", instant("saved-j"))],
    "journeys publish": lambda s: [s.draft()],
    "journeys close": lambda s: [s.live()],
    "journeys stop": lambda s: [s.live()],
    "journeys resume": lambda s: [s.paused()],
    "journeys test-mode": lambda s: [s.draft(), "off"],
    "journeys test-event": lambda s: [s.draft(), "--identity", "ada@example.com"],
    "journeys report": lambda s: [s.live()],
    "journeys steps": lambda s: [s.live(), "--identity", "ada@example.com"],
    "namespaces list": lambda s: [],
    "namespaces create": lambda s: ["Loyalty", "--unique"],
    "profiles show": lambda s: [s.person()],
    "profiles delete": lambda s: ["Email:nobody-at-all@example.com", "--yes"],
    "audiences create": lambda s: ["buyers", "--condition", "count(purchase in last 7 days) > 0"],
    "audiences list": lambda s: [],
    "audiences show": lambda s: [s.audience()],
    "audiences members": lambda s: [s.audience(), "--limit", "5"],
    "audiences of": lambda s: [s.person()],
}


def test_the_json_table_names_every_command_that_offers_json() -> None:
    assert {path for path, cmd in commands() if offers_json(cmd)} == set(ARGUMENTS)


@pytest.mark.parametrize("path", sorted(ARGUMENTS))
def test_json_is_printed_wherever_it_is_offered(stage: Stage, path: str) -> None:
    args = ARGUMENTS[path](stage)
    printed = ok(run(stage.shop, *path.split(), *args, "--json"))
    assert isinstance(json.loads(printed), dict | list), printed


def test_audiences_are_created_shown_and_a_persons_memberships_listed(shop: Shop) -> None:
    condition = "count(cart in last 1 day) >= 1"
    created = ok(run(shop, "audiences", "create", "carts", "--condition", condition))
    assert created.strip() == "created audience carts"
    shown = ok(run(shop, "audiences", "show", "carts"))
    assert f"audience carts: {condition}" in shown
    assert "counts events: cart; reads the profile: False" in shown
    refused = run(shop, "audiences", "create", "x", "--condition", "count(nope in last 1 day) > 0")
    assert refused.exit_code == 1 and "no event is named 'nope'" in refused.stderr
    send(shop, shop_message(shop, "cart", "ada@example.com"))
    of = ["audiences", "of", "Email:ada@example.com", "--json"]
    found = wait_until(
        lambda: (
            (r := run(shop, *of)).exit_code == 0
            and json.loads(r.stdout)["memberships"]
            and json.loads(r.stdout)
        ),
        timeout=30,
    )
    person = found["personId"]
    header, row = ok(run(shop, "audiences", "of", "Email:ada@example.com")).splitlines()[1:3]
    assert header.split() == ["audience", "entered", "exited"]
    audience, _entered, exited = row.split()
    assert (audience, exited) == ("carts", "-")  # a member: not exited
    members = ok(run(shop, "audiences", "members", "carts")).splitlines()
    assert [line.split()[0] for line in members[1:]] == [person]
    usage = run(shop, "audiences", "of", "ada@example.com")
    assert usage.exit_code == 2 and "NAMESPACE:ID" in usage.output


def test_steps_of_one_person_with_times_and_the_report_in_graph_order(shop: Shop) -> None:
    # names that sort otherwise than the graph: zulu, then alpha or mike, then done
    branches = [{"label": "big", "when": ev("cart", "cart.total") + " > 10", "next": "mike"}]
    publish(
        shop,
        on_cart(
            "graph",
            {
                "zulu": {"type": "condition", "branches": branches, "otherwise": "alpha"},
                "mike": {"type": "log", "message": "big", "next": "done"},
                "alpha": {"type": "log", "message": "small", "next": "done"},
                "done": END,
            },
        ),
    )
    send(
        shop,
        shop_message(shop, "cart", "ada@example.com", total=50),
        shop_message(shop, "cart", "ed@example.com", total=5),
    )
    wait_for_report(shop, "graph", entered=2, exited=2)

    printed = ok(run(shop, "journeys", "report", "graph")).splitlines()
    header = next(i for i, line in enumerate(printed) if line.startswith("activity"))
    table = [line.split() for line in printed[header + 1 :]]
    assert [row[0] for row in table] == ["entry", "zulu", "mike", "alpha", "done"]
    assert [row[2] for row in table] == ["2", "2", "1", "1", "2"]  # ended, 0 where none
    as_json = json.loads(ok(run(shop, "journeys", "report", "graph", "--json")))
    assert list(as_json["nodes"]) == ["entry", "zulu", "mike", "alpha", "done"]

    steps = ok(run(shop, "journeys", "steps", "graph", "--identity", "ada@example.com"))
    header, *rows = steps.splitlines()
    assert header.split()[:3] == ["at", "seq", "identity"]
    assert [row.split()[2] for row in rows] == ["ada@example.com"] * 4
    assert [row.split()[4] for row in rows] == ["done", "mike", "zulu", "entry"]  # newest first
    for row in rows:
        assert ISO_UTC.match(row.split()[0]), row  # not a terminal: UTC
    nobody = ["journeys", "steps", "graph", "--identity", "nobody@example.com", "--json"]
    assert json.loads(ok(run(shop, *nobody))) == {"steps": []}
    every = json.loads(ok(run(shop, "journeys", "steps", "graph", "--json")))
    assert {s["identity"] for s in every["steps"]} == {"ada@example.com", "ed@example.com"}
    first = datetime.fromisoformat(rows[-1].split()[0])
    assert first.utcoffset() is not None and first.utcoffset().total_seconds() == 0


def test_a_file_that_is_not_yaml_exits_1_with_its_name(shop: Shop, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    result = run(shop, "journeys", "save", str(broken))
    assert result.exit_code == 1
    assert "broken.yaml" in result.stderr
    assert result.stdout == ""


def test_group_options_before_the_command_and_after_it(shop: Shop) -> None:
    url = shop.demo.server.url
    before = CliRunner().invoke(
        main, ["--url", url, "--org", shop.org, "journeys", "list", "--json"], env=NO_WAYFARE_ENV
    )
    assert json.loads(ok(before)) == {"journeys": []}
    from_env = CliRunner().invoke(
        main,
        ["inlets", "list", "--json"],
        env={**NO_WAYFARE_ENV, "WAYFARE_URL": url, "WAYFARE_ORG": shop.org},
    )
    assert [i["name"] for i in json.loads(ok(from_env))["inlets"]] == [DEMO_INLET]
    # after the command wins over before it
    other = new_org()
    overridden = CliRunner().invoke(
        main,
        ["--url", url, "--org", other, "inlets", "list", "--json", "--org", shop.org],
        env=NO_WAYFARE_ENV,
    )
    assert [i["name"] for i in json.loads(ok(overridden))["inlets"]] == [DEMO_INLET]


def test_json_is_the_servers_answer(shop: Shop) -> None:
    """``--json`` prints what the API answers, field for field, though the CLI reads it
    through the typed models: the report's counts, failed records' reasons, unset fields."""
    publish(shop, instant("graph-json"))
    send(shop, shop_message(shop, "cart", "ada@example.com"))
    wait_for_report(shop, "graph-json", entered=1, exited=1)
    invalid = shop_message(shop, "cart", "bo@example.com")
    invalid["body"]["xdmEntity"]["timestamp"] = "not a time"
    answer = httpx.post(f"{shop.demo.inlet_url}?syncValidation=false", json=invalid, timeout=30)
    assert answer.status_code == 200, answer.text
    dataset = shop.demo.dataset_id
    compared = {
        ("journeys", "report", "graph-json"): "/api/v1/journeys/graph-json/report",
        ("journeys", "steps", "graph-json"): "/api/v1/journeys/graph-json/steps?limit=20",
        ("journeys", "show", "graph-json"): "/api/v1/journeys/graph-json",
        ("failures",): "/api/v1/failures?limit=20",
        ("inlets", "list"): "/api/v1/inlets",
        ("schemas", "show", "shop"): "/api/v1/schemas/shop",
        ("datasets", "show", dataset): f"/api/v1/datasets/{dataset}",
        ("events", "messages", "cart"): "/api/v1/events/cart/messages?limit=20",
    }
    with shop.admin() as admin:
        for args, path in compared.items():
            expected = admin.get(path).json()
            assert json.loads(ok(run(shop, *args, "--json"))) == expected, args
    [failure] = json.loads(ok(run(shop, "failures", "--json")))["failures"]
    assert failure["reasons"][0]["pointerToViolation"] == "#/timestamp"
    printed = ok(run(shop, "failures"))
    assert "  #/timestamp: " in printed and "(format)" in printed


def test_a_refused_definition_prints_each_violation(shop: Shop, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "bad", "class": "Nothing", "fields": {}}))
    result = run(shop, "schemas", "create", str(bad))
    assert result.exit_code == 1
    first, *violations = result.stderr.splitlines()
    assert first.startswith("error: HTTP 400")
    assert violations, result.stderr
    assert all(re.match(r"  \S+: .+ \(\w+\)$", line) for line in violations), result.stderr


def test_a_datasets_retention_is_set_and_lifted(shop: Shop) -> None:
    dataset = shop.demo.dataset_id
    assert json.loads(ok(run(shop, "datasets", "retention", dataset, "30")))["retentionDays"] == 30
    shown = json.loads(ok(run(shop, "datasets", "show", dataset, "--json")))
    assert shown["retentionDays"] == 30
    lifted = json.loads(ok(run(shop, "datasets", "retention", dataset, "--keep")))
    assert lifted.get("retentionDays") is None
    assert run(shop, "datasets", "retention", dataset, "30", "--keep").exit_code == 2
    assert run(shop, "datasets", "retention", dataset).exit_code == 2


def test_orgs_list_shows_each_org_with_its_tenant_and_show_the_one_of_org(shop: Shop) -> None:
    listed = ok(run(shop, "orgs", "list"))
    assert any(line.split() == [shop.org, "instance_name"] for line in listed.splitlines())
    assert ok(run(shop, "orgs", "show")).split() == [shop.org, "tenant", "instance_name"]


def test_a_journey_starting_on_an_audience_is_saved_from_yaml_as_written(
    shop: Shop, tmp_path: Path
) -> None:
    audience = ["audiences", "create", "gold", "--condition", "count(cart in last 1 day) >= 1"]
    ok(run(shop, *audience))
    path = tmp_path / "farewell.yaml"
    path.write_text(
        "name: farewell\n"
        "entry: {audience: gold, on: exited, next: done}\n"  # `on` is no boolean here
        "activities:\n"
        "  done: {type: end}\n"
    )
    ok(run(shop, "journeys", "save", str(path)))
    [journey] = json.loads(ok(run(shop, "journeys", "list", "--json")))["journeys"]
    assert journey["entryEvent"] == "audience:gold:exited"
    assert journey["definition"]["entry"] == {"audience": "gold", "on": "exited", "next": "done"}
