"""``wayfare orgs`` (list, show): the organisations the server keeps."""

from __future__ import annotations

import click

from wayfare.cli.context import CliContext, admin_command
from wayfare.cli.output import table


@click.group()
def orgs() -> None:
    """Organisations: each is created by its first write (a schema, an inlet, ...).

    \b
    Example:
      wayfare orgs list
    """


@orgs.command("list")
@admin_command()
def orgs_list(cli: CliContext) -> None:
    """Every org the server keeps, with its tenant id (no --org needed).

    \b
    Example:
      wayfare orgs list
    """
    with cli.client() as c:
        body = c.orgs.list()
    rows = [(o.imsOrgId, o.tenantId) for o in body.orgs]
    cli.show(body, lambda: table(["imsOrgId", "tenantId"], rows))


@orgs.command("show")
@admin_command()
def orgs_show(cli: CliContext) -> None:
    """The org of --org and its tenant id (the one its schemas' own fields live under).

    \b
    Example:
      wayfare --org ACME@AdobeOrg orgs show
    """
    with cli.client() as c:
        body = c.org.get()
    cli.show(body, f"{body.imsOrgId}  tenant {body.tenantId}")
