"""``wayfare events``: list, show, create, delete, preview, messages."""

from __future__ import annotations

from pathlib import Path

import click

from wayfare.cli.context import CliContext, admin_command
from wayfare.cli.definitions import load_file
from wayfare.cli.output import echo_json, iso_time, table


@click.group()
def events() -> None:
    """Event configurations: list, show, create, delete, preview, messages.

    \b
    Example:
      wayfare events messages newsletter_signup
    """


@events.command("list")
@admin_command()
def events_list(cli: CliContext) -> None:
    """The org's event configurations.

    \b
    Example:
      wayfare events list
    """
    with cli.client() as c:
        body = c.events.list()
    columns = ["name", "eventIdType", "namespace", "eventID", "schemaId"]
    rows = [(e.name, e.eventIdType, e.namespace, e.eventID, e.schemaId) for e in body.events]
    cli.show(body, lambda: table(columns, rows))


@events.command("show")
@click.argument("name")
@admin_command()
def events_show(cli: CliContext, name: str) -> None:
    """One event configuration, as JSON.

    \b
    Example:
      wayfare events show newsletter_signup
    """
    with cli.client() as c:
        echo_json(c.events.get(name))


@events.command("create")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@admin_command()
def events_create(cli: CliContext, file: Path) -> None:
    """Create an event configuration from a YAML or JSON definition.

    \b
    Example:
      wayfare events create newsletter_signup.yaml
    """
    with cli.client() as c:
        body = c.events.create(load_file(file))
    cli.show(
        body,
        f"created event {body.name} ({body.eventIdType})"
        + (f": eventID {body.eventID}" if body.eventID else ""),
    )


@events.command("delete")
@click.argument("name")
@admin_command()
def events_delete(cli: CliContext, name: str) -> None:
    """Delete an event configuration that no live journey uses.

    \b
    Example:
      wayfare events delete newsletter_signup
    """
    with cli.client() as c:
        body = c.events.delete(name)
    cli.show(body, f"deleted event {body.deleted}")


@events.command("preview")
@click.argument("name")
@admin_command()
def events_preview(cli: CliContext, name: str) -> None:
    """The exact message a data system must send, with a curl command and a Python snippet
    (with --json: only the message).

    \b
    Example:
      wayfare events preview newsletter_signup --json > message.json
    """
    with cli.client() as c:
        body = c.events.snippets(name)
    echo_json(body.payload)
    if not cli.as_json:
        click.echo(f"\n# Send it with curl (replace the placeholders first):\n{body.curl}")
        click.echo(f"\n# Or from Python:\n{body.python}")


@events.command("messages")
@click.argument("name")
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@admin_command()
def events_messages(cli: CliContext, name: str, limit: int) -> None:
    """Did my messages match this event? Newest first, with the reason when not.

    \b
    Example:
      wayfare events messages newsletter_signup -n 5
    """
    with cli.client() as c:
        body = c.events.messages(name, limit)
    if cli.as_json:
        echo_json(body)
        return
    if not body.messages:
        click.echo(
            f"no message has been matched against {name} yet: check that messages use "
            "its schema (wayfare failures shows rejected ones)"
        )
    for m in body.messages:
        verdict = f"matched  {m.identity}" if m.matched else f"no match {m.reason}"
        click.echo(f"{iso_time(m.receivedTimeMs)}  {m.xactionId}  {verdict}")
