"""``wayfare inlets``: list, show, create, enable, disable, delete, token."""

from __future__ import annotations

import click

from wayfare.cli.context import CliContext, admin_command
from wayfare.cli.output import echo_json, iso_time, table
from wayfare.wire.inlets import InletChange, InletSpec, IssuedToken, State


@click.group()
def inlets() -> None:
    """Inlets (HTTP API streaming connections): list, show, create, enable, disable,
    delete, token.

    \b
    Example:
      wayfare inlets create --name website --auth
    """


@inlets.command("list")
@admin_command()
def inlets_list(cli: CliContext) -> None:
    """The org's inlets with their URLs.

    \b
    Example:
      wayfare inlets list --json
    """
    with cli.client() as c:
        body = c.inlets.list()
    columns = ["name", "dataType", "authenticationRequired", "state", "inletUrl"]
    rows = [
        (i.name, i.dataType, i.authenticationRequired, i.state, i.inletUrl) for i in body.inlets
    ]
    cli.show(body, lambda: table(columns, rows))


@inlets.command("show")
@click.argument("inlet")
@admin_command()
def inlets_show(cli: CliContext, inlet: str) -> None:
    """One inlet (by id or name), as JSON.

    \b
    Example:
      wayfare inlets show website
    """
    with cli.client() as c:
        echo_json(c.inlets.get(inlet))


@inlets.command("create")
@click.option("--name", required=True, help="The inlet's name, unique in the org.")
@click.option("--description", default="", help="What sends to it.")
@click.option("--source-id", default="", help="Adobe's sourceId, kept as given.")
@click.option("--data-type", type=click.Choice(["xdm", "raw"]), default="xdm", show_default=True)
@click.option(
    "--auth/--no-auth",
    "authentication_required",
    default=False,
    help="Require a bearer token on collection calls.",
)
@click.option("--dataset", default=None, help="Raw inlets: the dataset to write to.")
@admin_command()
def inlets_create(
    cli: CliContext,
    name: str,
    description: str,
    source_id: str,
    data_type: str,
    authentication_required: bool,
    dataset: str | None,
) -> None:
    """Create an inlet; with --auth, print its first access token (shown once).

    \b
    Example:
      wayfare inlets create --name website --description "Signups" --auth
    """
    spec = InletSpec(
        name=name,
        description=description,
        sourceId=source_id,
        dataType="raw" if data_type == "raw" else "xdm",
        authenticationRequired=authentication_required,
        datasetId=dataset,
    )
    with cli.client() as c:
        body = c.inlets.create(spec)
    if cli.as_json:
        echo_json(body)
        return
    click.echo(f"created inlet {body.name}: {body.inletUrl}")
    if isinstance(body.token, IssuedToken):
        click.echo(f"access token (shown once): {body.token.accessToken}")
    if body.flowId:
        click.echo(f"flow id (x-adobe-flow-id): {body.flowId}")


def _set_state(cli: CliContext, inlet: str, state: State) -> None:
    with cli.client() as c:
        body = c.inlets.update(inlet, InletChange(state=state))
    cli.show(body, f"inlet {body.name} is {body.state}")


@inlets.command("disable")
@click.argument("inlet")
@admin_command()
def inlets_disable(cli: CliContext, inlet: str) -> None:
    """Refuse the inlet's messages (400) until it is enabled again.

    \b
    Example:
      wayfare inlets disable website
    """
    _set_state(cli, inlet, "disabled")


@inlets.command("enable")
@click.argument("inlet")
@admin_command()
def inlets_enable(cli: CliContext, inlet: str) -> None:
    """Take the inlet's messages again.

    \b
    Example:
      wayfare inlets enable website
    """
    _set_state(cli, inlet, "enabled")


@inlets.command("delete")
@click.argument("inlet")
@admin_command()
def inlets_delete(cli: CliContext, inlet: str) -> None:
    """Delete an inlet; what it stored stays in its datasets.

    \b
    Example:
      wayfare inlets delete website
    """
    with cli.client() as c:
        body = c.inlets.delete(inlet)
    cli.show(body, f"deleted inlet {body.deleted}")


@inlets.command("token")
@click.argument("inlet")
@click.option("--expires-in", type=int, default=None, help="Seconds until the token expires.")
@click.option("--revoke", is_flag=True, help="Revoke every token of the inlet instead.")
@admin_command()
def inlets_token(cli: CliContext, inlet: str, expires_in: int | None, revoke: bool) -> None:
    """Issue a bearer token for an authenticated inlet (or --revoke them all).

    \b
    Examples:
      wayfare inlets token website --expires-in 86400
      wayfare inlets token website --revoke
    """
    with cli.client() as c:
        if revoke:
            revoked = c.inlets.revoke_tokens(inlet)
            cli.show(revoked, f"revoked {revoked.revoked} token(s)")
            return
        issued = c.inlets.issue_token(inlet, expires_in)
    if cli.as_json:
        echo_json(issued)
        return
    click.echo(issued.accessToken)  # alone on stdout, for $(wayfare inlets token ...)
    if issued.expiresMs is not None:
        click.echo(f"expires {iso_time(issued.expiresMs)}", err=True)
