"""What every admin command shares: where the server is, which org, the admin token, and
whether to print JSON.

``--url``, ``--org`` and ``--admin-token`` are read once on the group (``wayfare --org X
schemas list``, or ``WAYFARE_URL``, ``WAYFARE_ORG``, ``WAYFARE_ADMIN_TOKEN``) and may be given
again after a command (``wayfare schemas list --org X``), which wins. ``admin_command``
declares them, and ``--json``, on a command and hands it the resulting ``CliContext``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from wayfare.cli.output import echo_json
from wayfare.client.admin import AdminClient

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_ORG = "DEMO@WayfareOrg"


@dataclass
class CliContext:
    """The settings of one admin command, as the options and the environment gave them."""

    url: str = DEFAULT_URL
    """Base URL of the Wayfare server."""
    org: str = DEFAULT_ORG
    """Organisation id, sent as ``x-gw-ims-org-id``."""
    admin_token: str | None = None
    """Admin bearer token, when the server requires one."""
    as_json: bool = False
    """Print the server's JSON answer instead of lines and tables."""
    given: set[str] = field(default_factory=set)
    """The fields an option or the environment set (the others are defaults)."""

    def chosen(self, name: str) -> Any:
        """A field's value when an option or the environment gave it, else ``None``."""
        return getattr(self, name) if name in self.given else None

    def client(self) -> AdminClient:
        return AdminClient(self.url, self.org, self.admin_token)

    def show(self, body: Any, text: str | Callable[[], None]) -> None:
        """The server's answer as JSON with --json; otherwise ``text``, a line or a printer."""
        if self.as_json:
            echo_json(body)
        elif isinstance(text, str):
            click.echo(text)
        else:
            text()


pass_context = click.make_pass_decorator(CliContext, ensure=True)


def _keep(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            cli = ctx.ensure_object(CliContext)
            setattr(cli, name, value)
            cli.given.add(name)

    return callback


def _connection_options(fn: F, *, from_env: bool) -> F:
    env = {"WAYFARE_URL": "url", "WAYFARE_ORG": "org", "WAYFARE_ADMIN_TOKEN": "admin_token"}
    names = {name: var for var, name in env.items()}
    shown = {
        "url": f"Base URL of the Wayfare server [default: {DEFAULT_URL}].",
        "org": f"Organisation id (x-gw-ims-org-id) [default: {DEFAULT_ORG}].",
        "admin_token": "Admin bearer token, when the server requires one.",
    }
    for name in ("admin_token", "org", "url"):
        fn = click.option(
            f"--{name.replace('_', '-')}",
            envvar=names[name] if from_env else None,
            show_envvar=from_env,
            default=None,
            expose_value=False,
            is_eager=True,
            callback=_keep(name),
            help=shown[name] if from_env else shown[name] + f" Also {names[name]}.",
        )(fn)
    return fn


def group_options(fn: F) -> F:
    """``--url``, ``--org`` and ``--admin-token`` on the group, from the environment too."""
    return _connection_options(fn, from_env=True)


def admin_command(*, json_flag: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The shared options on an admin command, whose first argument is the ``CliContext``."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        fn = pass_context(command)
        if json_flag:
            fn = click.option(
                "--json",
                is_flag=True,
                expose_value=False,
                callback=_keep("as_json"),
                help="Print the server's answer as JSON.",
            )(fn)
        return _connection_options(fn, from_env=False)

    return decorate


def split_identity(identity: str) -> tuple[str, str]:
    """An IDENTITY argument (``Email:ada@example.com``) as its namespace and id."""
    namespace, sep, id_ = identity.partition(":")
    if not sep or not namespace or not id_:
        raise click.BadParameter("an identity is NAMESPACE:ID", param_hint="IDENTITY")
    return namespace, id_
