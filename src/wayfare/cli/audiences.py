"""``wayfare audiences``: create, list, show, members, and ``of`` (a person's audiences)."""

from __future__ import annotations

import click

from wayfare.cli.context import CliContext, admin_command, split_identity
from wayfare.cli.output import iso_time, table
from wayfare.wire.audiences import AudienceDefinition


@click.group()
def audiences() -> None:
    """Streaming audiences: who meets a condition on their profile attributes and recent
    events, kept up to date as their profile and events change.

    \b
    Example:
      wayfare audiences create gold-buyers \\
        --condition "count(purchase in last 7 days) >= 2"
    """


@audiences.command("create")
@click.argument("name")
@click.option(
    "--condition",
    required=True,
    help="An expression over #{profile.path} and count(Event in last N days).",
)
@click.option("--description", default="", help="For people.")
@admin_command()
def audiences_create(cli: CliContext, name: str, condition: str, description: str) -> None:
    """Create the audience NAME of the people who meet CONDITION.

    \b
    Example:
      wayfare audiences create gold-buyers \\
        --condition "count(purchase in last 7 days) >= 2"
    """
    definition = AudienceDefinition(name=name, condition=condition, description=description)
    with cli.client() as c:
        body = c.audiences.create(definition)
    cli.show(body, f"created audience {body.name}")


@audiences.command("list")
@admin_command()
def audiences_list(cli: CliContext) -> None:
    """The org's audiences, by name.

    \b
    Example:
      wayfare audiences list
    """
    with cli.client() as c:
        body = c.audiences.list()
    rows = [(a.name, a.condition, iso_time(a.createdMs)) for a in body.audiences]
    cli.show(body, lambda: table(["name", "condition", "created"], rows))


@audiences.command("show")
@click.argument("name")
@admin_command()
def audiences_show(cli: CliContext, name: str) -> None:
    """One audience: its condition and what re-evaluates a person.

    \b
    Example:
      wayfare audiences show gold-buyers
    """
    with cli.client() as c:
        body = c.audiences.get(name)

    def text() -> None:
        click.echo(f"audience {body.name}: {body.condition}")
        if body.description:
            click.echo(body.description)
        counted = ", ".join(body.events) or "none"
        click.echo(f"counts events: {counted}; reads the profile: {body.readsProfile}")

    cli.show(body, text)


@audiences.command("members")
@click.argument("name")
@click.option("--limit", default=100, show_default=True, help="Members to list (at most 1000).")
@click.option("--after", default=None, help="The last person id of the page before.")
@admin_command()
def audiences_members(cli: CliContext, name: str, limit: int, after: str | None) -> None:
    """The current members of audience NAME, by person id, with when each entered.

    \b
    Example:
      wayfare audiences members gold-buyers --limit 20
    """
    with cli.client() as c:
        body = c.audiences.members(name, limit, after)

    def text() -> None:
        table(["person", "entered"], [(m.personId, iso_time(m.enteredMs)) for m in body.members])
        if body.next is not None:
            click.echo(f"more: --after {body.next}")

    cli.show(body, text)


@audiences.command("of")
@click.argument("identity")
@admin_command()
def audiences_of(cli: CliContext, identity: str) -> None:
    """The audiences of the person one of whose identities is IDENTITY (NAMESPACE:ID),
    current and past, with when the person entered and exited each.

    \b
    Example:
      wayfare audiences of Email:ada@example.com
    """
    namespace, id_ = split_identity(identity)
    with cli.client() as c:
        body = c.audience_memberships.of(namespace, id_)

    def text() -> None:
        click.echo(f"person {body.personId}")
        rows = [
            (m.audience, iso_time(m.enteredMs), "" if m.exitedMs is None else iso_time(m.exitedMs))
            for m in body.memberships
        ]
        table(["audience", "entered", "exited"], rows)

    cli.show(body, text)
