"""``wayfare namespaces`` (list, create) and ``wayfare profiles`` (show): people and their
identities."""

from __future__ import annotations

import click

from wayfare.cli.context import CliContext, admin_command, split_identity
from wayfare.cli.output import iso_time, table
from wayfare.wire.profiles import NamespaceSpec


@click.group()
def namespaces() -> None:
    """Identity namespaces: the built-in ones (Email, Phone, ECID, CRMID) and the org's.

    \b
    Example:
      wayfare namespaces create Loyalty --name "Loyalty card" --unique
    """


@namespaces.command("list")
@admin_command()
def namespaces_list(cli: CliContext) -> None:
    """The org's identity namespaces.

    \b
    Example:
      wayfare namespaces list
    """
    with cli.client() as c:
        body = c.namespaces.list()
    rows = [(n.code, n.name, n.unique, n.builtIn) for n in body.namespaces]
    cli.show(body, lambda: table(["code", "name", "unique", "builtIn"], rows))


@namespaces.command("create")
@click.argument("code")
@click.option("--name", default="", help="For people; the code when left out.")
@click.option(
    "--unique", is_flag=True, help="At most one identity of it per person (newest link wins)."
)
@admin_command()
def namespaces_create(cli: CliContext, code: str, name: str, unique: bool) -> None:
    """Create a namespace of the org's own, named in messages' identityMap by CODE.

    \b
    Example:
      wayfare namespaces create Loyalty --unique
    """
    with cli.client() as c:
        body = c.namespaces.create(NamespaceSpec(code=code, name=name, unique=unique))
    cli.show(body, f"created namespace {body.code}")


@click.group()
def profiles() -> None:
    """People: a person of the identity graph, found by any of its identities.

    \b
    Example:
      wayfare profiles show Email:ada@example.com
    """


@profiles.command("show")
@click.argument("identity")
@admin_command()
def profiles_show(cli: CliContext, identity: str) -> None:
    """The person one of whose identities is IDENTITY (NAMESPACE:ID): its person id and its
    identities, with when each was linked.

    \b
    Example:
      wayfare profiles show Email:ada@example.com
    """
    namespace, id_ = split_identity(identity)
    with cli.client() as c:
        body = c.profiles.find(namespace, id_)

    def text() -> None:
        click.echo(f"person {body.personId}")
        rows = [(f"{x.namespace}:{x.id}", iso_time(x.linkedMs)) for x in body.identities]
        table(["identity", "linked"], rows)
        for drop in body.droppedLinks:
            click.echo(f"dropped {drop.namespace}:{drop.id} ({drop.cause})")

    cli.show(body, text)
