"""``wayfare apply`` (configuration as code) and ``wayfare failures``."""

from __future__ import annotations

from pathlib import Path

import click

from wayfare.cli.context import CliContext, admin_command
from wayfare.cli.definitions import documents
from wayfare.cli.output import echo_json, iso_time, violation_line


@click.command()
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@admin_command()
def apply(cli: CliContext, path: Path) -> None:
    """Apply YAML/JSON definitions idempotently: Org, Namespace, Schema, Dataset, Inlet,
    Event and Journey documents (applied in that order), from one file or every
    .yaml/.yml/.json file below a folder. An Org document's name is the org they go to,
    unless --org (or WAYFARE_ORG) says otherwise; the server refuses documents for another
    org. Each line says what was created, updated or left unchanged; an inlet's access
    token is shown once.

    \b
    Example:
      wayfare apply examples/config/
    """
    found = documents(path)
    named = {
        d["name"]
        for d in found
        if isinstance(d, dict) and d.get("kind") == "Org" and isinstance(d.get("name"), str)
    }
    if len(named) == 1 and "org" not in cli.given:
        (cli.org,) = named
    with cli.client() as c:
        body = c.definitions.apply(found)
    if cli.as_json:
        echo_json(body)
        return
    for item in body.applied:
        click.echo(f"{item.kind:<8} {item.name:<30} {item.action:<10} {item.id}")
        if item.accessToken:
            click.echo(f"         access token (shown once): {item.accessToken}")


@click.command()
@click.option("--inlet", default=None, help="Only failures of this inlet (id or name).")
@click.option("--since", default=None, help="From this time (ms or ISO 8601).")
@click.option("--until", default=None, help="Before this time (ms or ISO 8601).")
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@admin_command()
def failures(
    cli: CliContext, inlet: str | None, since: str | None, until: str | None, limit: int
) -> None:
    """Failed records: accepted messages that broke their schema, with every reason.

    \b
    Example:
      wayfare failures --inlet website --since 2026-11-30T09:00:00Z -n 5
    """
    with cli.client() as c:
        body = c.failures.list(inlet, since, until, limit)
    if cli.as_json:
        echo_json(body)
        return
    if not body.failures:
        click.echo("no failed records")
    for f in body.failures:
        received = iso_time(f.receivedTimeMs)
        click.echo(f"{f.xactionId}  inlet {f.inletId[:12]}…  received {received}")
        for reason in f.reasons:
            click.echo(f"  {violation_line(reason)}")
