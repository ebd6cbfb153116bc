"""The ``wayfare`` command: the server, and admin commands that talk to a running server.

One module per command group (``orgs``, ``schemas``, ``datasets``, ``inlets``, ``events``,
``journeys``), ``apply`` and ``failures``, ``send``, and ``server`` for the commands that run
Wayfare. A new group is a module whose group is added below.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from wayfare.cli.apply import apply, failures
from wayfare.cli.audiences import audiences
from wayfare.cli.context import group_options
from wayfare.cli.datasets import datasets
from wayfare.cli.events import events
from wayfare.cli.inlets import inlets
from wayfare.cli.journeys import journeys
from wayfare.cli.orgs import orgs
from wayfare.cli.output import violation_line
from wayfare.cli.people import namespaces, profiles
from wayfare.cli.schemas import schemas
from wayfare.cli.send import send
from wayfare.cli.server import backup, doctor, engine, http_process, serve, worker
from wayfare.client.admin import AdminError
from wayfare.errors import WayfareError
from wayfare.wire.base import Report

__all__ = ["main"]


class _Group(click.Group):
    """Errors of Wayfare (the server's answers, an unreachable server) as one red line on
    standard error, with a message's violations under it, and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WayfareError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            problem = exc.problem if isinstance(exc, AdminError) else None
            if problem is not None and isinstance(problem.report, Report):
                for violation in problem.report.violations:
                    click.echo(f"  {violation_line(violation)}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="wayfare")
@group_options
def main() -> None:
    """Wayfare: event-triggered customer journeys behind an Adobe-compatible inlet.

    The admin commands call a running server: --url, --org and --admin-token (or
    WAYFARE_URL, WAYFARE_ORG, WAYFARE_ADMIN_TOKEN) go before the command or after it;
    --json, where a command offers it, prints the server's answer as JSON. Times print in
    ISO 8601: local time on a terminal, UTC otherwise.

    \b
    Examples:
      wayfare serve --demo
      wayfare --org ACME@AdobeOrg apply examples/config/
      wayfare journeys report welcome --json

    \b
    Exit codes:
      0  done
      1  the server refused the call or cannot be reached, an input file is
         wrong, rows were rejected (send), or a check failed (doctor)
      2  usage: an unknown command or option, a missing or invalid argument
    """


for command in (serve, worker, doctor, backup, engine, http_process):
    main.add_command(command)
for command in (
    orgs,
    schemas,
    datasets,
    inlets,
    events,
    journeys,
    namespaces,
    profiles,
    audiences,
    apply,
    failures,
    send,
):
    main.add_command(command)
