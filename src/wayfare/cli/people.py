"""``wayfare namespaces`` (list, create) and ``wayfare profiles`` (show, delete): people and
their identities."""

from __future__ import annotations

import json
from typing import Any

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
    """The person one of whose identities is IDENTITY (NAMESPACE:ID): its person id, its
    identities with when each was linked, its merged attributes with the dataset each came
    from, its journeys (current ones at their activity, past ones with their steps), its
    audiences, and its recent experience events.

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
        if body.sources:
            click.echo("")
            sources = [
                (x.path, _leaf(body.attributes, x.path), x.datasetName or x.datasetId,
                 f"{x.identity.namespace}:{x.identity.id}", iso_time(x.timeMs))
                for x in body.sources
            ]  # fmt: skip
            table(["attribute", "value", "dataset", "identity", "updated"], sources)
        for j in body.journeys:
            at = f" at {j.node}" if j.node else ""
            ended = f", ended {iso_time(j.endedMs)}" if j.endedMs is not None else ""
            entered = f"entered {iso_time(j.enteredMs)}{ended}"
            click.echo(f"\njourney {j.journey} v{j.version} {j.status}{at} ({entered})")
            for step in j.steps:
                detail = f" {step.detail}" if step.detail else ""
                click.echo(f"  {iso_time(step.atMs)} {step.node} {step.status}{detail}")
        if body.audiences:
            click.echo("")
            audiences = [
                (m.audience, "member" if m.exitedMs is None else "exited",
                 iso_time(m.enteredMs), "" if m.exitedMs is None else iso_time(m.exitedMs))
                for m in body.audiences
            ]  # fmt: skip
            table(["audience", "status", "entered", "exited"], audiences)
        if body.events:
            click.echo("")
            events = [
                (iso_time(e.timeMs), e.datasetName or e.datasetId, e.eventType or "",
                 ", ".join(e.events), f"{e.identity.namespace}:{e.identity.id}")
                for e in body.events
            ]  # fmt: skip
            table(["event time", "dataset", "eventType", "events", "identity"], events)

    cli.show(body, text)


def _leaf(attributes: dict[str, Any], path: str) -> str:
    """The value at a dotted path of the merged attributes, as JSON."""
    value: Any = attributes
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return json.dumps(value, ensure_ascii=False)


@profiles.command("delete")
@click.argument("identity")
@click.option("--yes", is_flag=True, help="Delete: the command asks no question.")
@admin_command()
def profiles_delete(cli: CliContext, identity: str, yes: bool) -> None:
    """Privacy delete of the person one of whose identities is IDENTITY (NAMESPACE:ID): its
    live journey instances end (status deleted), and its identities, profile attributes,
    experience events, dataset records and the identity of its step events go; reports
    keep their counts.
    Nothing is asked: without --yes nothing is deleted.

    \b
    Example:
      wayfare profiles delete Email:ada@example.com --yes
    """
    namespace, id_ = split_identity(identity)
    if not yes:
        raise click.UsageError("a privacy delete cannot be undone: add --yes to delete")
    with cli.client() as c:
        body = c.profiles.delete(namespace, id_)

    def text() -> None:
        click.echo(f"deleted person {body.personId}" if body.personId else "no person had it")
        rows = [
            ("identities", body.identities),
            ("instances ended", body.instancesEnded),
            ("instances erased", body.instancesErased),
            ("step events erased", body.stepEventsErased),
            ("profile fragments", body.profileFragments),
            ("records", body.records),
            ("failed records", body.failedRecords),
            ("experience events", body.experienceEvents),
            ("audience memberships", body.audienceMemberships),
            ("counted events", body.countedEvents),
        ]
        table(["removed", "count"], rows)

    cli.show(body, text)
