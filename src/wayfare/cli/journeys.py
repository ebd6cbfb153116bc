"""``wayfare journeys``: list, show, save, publish, close, stop, resume, test mode, test
events, report, steps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from wayfare.cli.context import CliContext, admin_command
from wayfare.cli.definitions import load_file
from wayfare.cli.output import echo_json, iso_time, table
from wayfare.client.admin_resources import Journeys
from wayfare.wire.journeys import STEP_STATUSES, Journey

DEFINITION = click.Path(path_type=Path, exists=True, dir_okay=False)


@click.group()
def journeys() -> None:
    """Journeys: list, show, save, publish, close, stop, resume, test mode, report, steps.

    \b
    Example:
      wayfare journeys steps welcome --identity ada@example.com
    """


@journeys.command("list")
@admin_command()
def journeys_list(cli: CliContext) -> None:
    """The org's journeys, at their latest version.

    \b
    Example:
      wayfare journeys list
    """
    with cli.client() as c:
        body = c.journeys.list()
    columns = ["name", "version", "state", "testMode", "entryEvent"]
    rows = [(j.name, j.version, j.state, j.testMode, j.entryEvent) for j in body.journeys]
    cli.show(body, lambda: table(columns, rows))


@journeys.command("show")
@click.argument("name")
@click.option("--version", type=int, default=None, help="This version (default: the latest).")
@admin_command()
def journeys_show(cli: CliContext, name: str, version: int | None) -> None:
    """One journey version with its definition, as JSON.

    \b
    Example:
      wayfare journeys show welcome --version 2
    """
    with cli.client() as c:
        echo_json(c.journeys.get(name, version))


@journeys.command("save")
@click.argument("file", type=DEFINITION)
@admin_command()
def journeys_save(cli: CliContext, file: Path) -> None:
    """Save a journey definition (YAML/JSON) as a draft: a new version if one is live.

    \b
    Example:
      wayfare journeys save welcome.yaml
    """
    with cli.client() as c:
        body = c.journeys.save(load_file(file))
    cli.show(body, f"journey {body.name} version {body.version} is {body.state}")


def _change_state(cli: CliContext, name: str, change: Callable[[Journeys, str], Journey]) -> None:
    with cli.client() as c:
        body = change(c.journeys, name)
    cli.show(body, f"journey {name} version {body.version} is {body.state}")


@journeys.command("publish")
@click.argument("name")
@admin_command()
def journeys_publish(cli: CliContext, name: str) -> None:
    """Make the draft live (the previous live version is closed).

    \b
    Example:
      wayfare journeys publish welcome
    """
    _change_state(cli, name, Journeys.publish)


@journeys.command("close")
@click.argument("name")
@admin_command()
def journeys_close(cli: CliContext, name: str) -> None:
    """No new entries; people inside finish their way.

    \b
    Example:
      wayfare journeys close welcome
    """
    _change_state(cli, name, Journeys.close)


@journeys.command("stop")
@click.argument("name")
@admin_command()
def journeys_stop(cli: CliContext, name: str) -> None:
    """Every person inside exits now.

    \b
    Example:
      wayfare journeys stop welcome
    """
    with cli.client() as c:
        body = c.journeys.stop(name)
    line = f"journey {name} stopped; {body.exited} instance(s) exited"
    if body.exiting:
        line += f", {body.exiting} still exiting"
    cli.show(body, line)


@journeys.command("resume")
@click.argument("name")
@admin_command()
def journeys_resume(cli: CliContext, name: str) -> None:
    """Take people in again after the journey engine paused the journey (its steps kept
    failing: `journeys show` and `journeys report` say why).

    \b
    Example:
      wayfare journeys resume welcome
    """
    with cli.client() as c:
        body = c.journeys.resume(name)
    line = f"journey {name} version {body.version} is {body.state} and takes people in"
    cli.show(body, line)


@journeys.command("test-mode")
@click.argument("name")
@click.argument("state", type=click.Choice(["on", "off"]))
@admin_command()
def journeys_test_mode(cli: CliContext, name: str, state: str) -> None:
    """Turn test mode of the draft on or off: in test mode only test profiles enter it.

    \b
    Example:
      wayfare journeys test-mode welcome on
    """
    with cli.client() as c:
        body = c.journeys.set_test_mode(name, state == "on")
    cli.show(body, f"journey {name} version {body.version}: test mode {state}")


@journeys.command("test-event")
@click.argument("name")
@click.option("--identity", required=True, help="The test profile's identity.")
@click.option(
    "--payload",
    type=DEFINITION,
    default=None,
    help="An xdmEntity (JSON/YAML); default: the event's preview.",
)
@admin_command()
def journeys_test_event(cli: CliContext, name: str, identity: str, payload: Path | None) -> None:
    """Fire the entry event for a test profile into a draft in test mode.

    \b
    Example:
      wayfare journeys test-event welcome --identity ada@example.com --payload entity.json
    """
    entity = load_file(payload) if payload else None
    if entity is not None and not isinstance(entity, dict):
        raise click.BadParameter(
            "expected an object (the event's xdmEntity)", param_hint="--payload"
        )
    with cli.client() as c:
        body = c.journeys.test_event(name, identity, entity)
    if body.taken:
        line = f"{identity} entered journey {name} version {body.version} (test)"
    else:
        line = (
            f"{identity} is queued for journey {name} version {body.version} (test): "
            "no journey engine has taken it yet"
        )
    cli.show(body, line)


@journeys.command("report")
@click.argument("name")
@admin_command()
def journeys_report(cli: CliContext, name: str) -> None:
    """Entered, exited, in error and discarded, for the journey and per activity (in the
    order of the journey's graph, from its entry).

    \b
    Example:
      wayfare journeys report welcome
    """
    with cli.client() as c:
        body = c.journeys.report(name)
    if cli.as_json:
        echo_json(body)
        return
    click.echo(
        f"journey {name} version {body.version} ({body.state}): entered "
        f"{body.entered}, in journey {body.inJourney}, exited {body.exited}, "
        f"in error {body.inError}, discarded {body.discarded}"
    )
    for pause in body.paused:
        click.echo(f"  version {pause.version} is paused: {pause.reason}")
    for cause, count in body.discardsByCause.items():
        click.echo(f"  discarded, {cause}: {count}")
    rows = [
        (node, counts.type, *(counts.count(s) for s in STEP_STATUSES))
        for node, counts in body.nodes.items()
    ]
    table(["activity", "type", *STEP_STATUSES], rows)


@journeys.command("steps")
@click.argument("name")
@click.option("--identity", default=None, help="Only the steps of this person.")
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@admin_command()
def journeys_steps(cli: CliContext, name: str, identity: str | None, limit: int) -> None:
    """The latest step events, newest first: when, who, which activity, how it ended.

    \b
    Examples:
      wayfare journeys steps welcome -n 50
      wayfare journeys steps welcome --identity ada@example.com
    """
    with cli.client() as c:
        body = c.journeys.steps(name, limit, identity)
    if cli.as_json:
        echo_json(body)
        return
    rows = [
        (iso_time(s.atMs), s.seq, s.identity, s.version, s.node, s.nodeType, s.status, s.detail)
        for s in body.steps
    ]
    table(["at", "seq", "identity", "version", "node", "nodeType", "status", "detail"], rows)
