"""``wayfare schemas``: list, show, create, update."""

from __future__ import annotations

from pathlib import Path

import click

from wayfare.cli.context import CliContext, admin_command
from wayfare.cli.definitions import load_file
from wayfare.cli.output import echo_json, table

DEFINITION = click.Path(path_type=Path, exists=True, dir_okay=False)


@click.group()
def schemas() -> None:
    """Schemas: list, show, create, update (a new version).

    \b
    Example:
      wayfare schemas list --org ACME@AdobeOrg
    """


@schemas.command("list")
@admin_command()
def schemas_list(cli: CliContext) -> None:
    """The org's schemas, at their latest version.

    \b
    Example:
      wayfare schemas list --json
    """
    with cli.client() as c:
        body = c.schemas.list()
    rows = [(s.name, s.version, s.xdm_class, s.id) for s in body.schemas]
    cli.show(body, lambda: table(["name", "version", "class", "id"], rows))


@schemas.command("show")
@click.argument("ref")
@click.option("--version", type=int, default=None, help="This version (default: the latest).")
@admin_command()
def schemas_show(cli: CliContext, ref: str, version: int | None) -> None:
    """Show one schema (by name, id or altId) with its full JSON Schema, as JSON.

    \b
    Example:
      wayfare schemas show signups --version 1
    """
    with cli.client() as c:
        echo_json(c.schemas.get(ref, version))


@schemas.command("create")
@click.argument("file", type=DEFINITION)
@admin_command()
def schemas_create(cli: CliContext, file: Path) -> None:
    """Create a schema from a YAML or JSON definition.

    \b
    Example:
      wayfare schemas create signups.yaml
    """
    with cli.client() as c:
        body = c.schemas.create(load_file(file))
    cli.show(body, f"created schema {body.name} version {body.version}: {body.id}")


@schemas.command("update")
@click.argument("ref")
@click.argument("file", type=DEFINITION)
@admin_command()
def schemas_update(cli: CliContext, ref: str, file: Path) -> None:
    """Add a version to a schema from a YAML or JSON definition.

    \b
    Example:
      wayfare schemas update signups signups-v2.yaml
    """
    with cli.client() as c:
        body = c.schemas.update(ref, load_file(file))
    cli.show(body, f"schema {body.name} is at version {body.version}")
