"""``wayfare datasets``: list, show, create, enable-profile, tail."""

from __future__ import annotations

import json
import time

import click

from wayfare.cli.context import CliContext, admin_command
from wayfare.cli.output import echo_json, table
from wayfare.wire.datasets import DatasetSpec

FOLLOW_SECONDS = 1.0


@click.group()
def datasets() -> None:
    """Datasets: list, show, create, enable-profile, tail.

    \b
    Example:
      wayfare datasets tail journeyStepEvents -n 5
    """


@datasets.command("list")
@click.option("--schema", default=None, help="Only datasets of this schema.")
@admin_command()
def datasets_list(cli: CliContext, schema: str | None) -> None:
    """The org's datasets, with the default one of each schema.

    \b
    Example:
      wayfare datasets list --schema signups
    """
    with cli.client() as c:
        body = c.datasets.list(schema)
    rows = [(d.id, d.name, d.default) for d in body.datasets]
    cli.show(body, lambda: table(["id", "name", "default"], rows))


@datasets.command("show")
@click.argument("dataset")
@admin_command()
def datasets_show(cli: CliContext, dataset: str) -> None:
    """One dataset with its record count, as JSON.

    \b
    Example:
      wayfare datasets show journeyStepEvents
    """
    with cli.client() as c:
        echo_json(c.datasets.get(dataset))


@datasets.command("create")
@click.argument("name")
@click.option("--schema", required=True, help="The schema's id, altId or name.")
@click.option("--profile", is_flag=True, help="Enable it for Profile.")
@click.option("--retention-days", type=int, default=None, help="Days its records are kept.")
@admin_command()
def datasets_create(
    cli: CliContext, name: str, schema: str, profile: bool, retention_days: int | None
) -> None:
    """Create a dataset of a schema, as JSON.

    \b
    Example:
      wayfare datasets create crm-profiles --schema customers --profile
    """
    spec = DatasetSpec(name=name, schemaId=schema, retentionDays=retention_days, profile=profile)
    with cli.client() as c:
        echo_json(c.datasets.create(spec))


@datasets.command("enable-profile")
@click.argument("dataset")
@admin_command()
def datasets_enable_profile(cli: CliContext, dataset: str) -> None:
    """Enable a dataset for Profile: its Profile records update profile attributes from
    then on. It cannot be disabled.

    \b
    Example:
      wayfare datasets enable-profile crm-profiles
    """
    with cli.client() as c:
        echo_json(c.datasets.enable_profile(dataset))


@datasets.command("retention")
@click.argument("dataset")
@click.argument("days", type=click.IntRange(min=1), required=False)
@click.option("--keep", is_flag=True, help="Keep its records for good (lift the retention).")
@admin_command()
def datasets_retention(cli: CliContext, dataset: str, days: int | None, keep: bool) -> None:
    """Keep a dataset's records (and failed records) DAYS days: the server deletes older ones
    in the background. --keep keeps them for good.

    \b
    Example:
      wayfare datasets retention purchases-replay 30
    """
    if (days is None) == (not keep):
        raise click.UsageError("give DAYS or --keep, not both")
    with cli.client() as c:
        echo_json(c.datasets.set_retention(dataset, None if keep else days))


@datasets.command("tail")
@click.argument("dataset")
@click.option("-n", "--limit", type=int, default=10, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new records.")
@admin_command(json_flag=False)
def datasets_tail(cli: CliContext, dataset: str, limit: int, follow: bool) -> None:
    """Print the last records of a dataset, one JSON document per line.

    \b
    Example:
      wayfare datasets tail journeyStepEvents -n 20 --follow
    """
    with cli.client() as c:
        page = c.datasets.records(dataset, limit)
        last = 0
        while True:
            for record in page.records:
                click.echo(json.dumps(record, ensure_ascii=False))
            last = last if page.lastSeq is None else page.lastSeq
            if not follow:
                return
            time.sleep(FOLLOW_SECONDS)
            page = c.datasets.records(dataset, 1000, after=last)
