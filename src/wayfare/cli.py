"""The ``wayfare`` command: the server, and admin commands that talk to a running server."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from wayfare.client.admin import AdminClient
from wayfare.errors import WayfareError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_ORG = "DEMO@WayfareOrg"


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _table(rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    rows = list(rows)
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    click.echo("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        click.echo("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def admin_options(fn: F) -> F:
    """--url, --org and --admin-token for commands that call a running server."""
    fn = click.option(
        "--admin-token",
        envvar="WAYFARE_ADMIN_TOKEN",
        default=None,
        help="Admin bearer token, when the server requires one.",
    )(fn)
    fn = click.option(
        "--org",
        envvar="WAYFARE_ORG",
        default=DEFAULT_ORG,
        show_default=True,
        help="Organisation id (x-gw-ims-org-id).",
    )(fn)
    fn = click.option(
        "--url",
        envvar="WAYFARE_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="Base URL of the Wayfare server.",
    )(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="Print raw JSON.")(fn)
    return fn


def _client(url: str, org: str, admin_token: str | None) -> AdminClient:
    return AdminClient(url, org, admin_token)


def _list_resources(
    kind: str,
    columns: list[str],
    as_json: bool,
    url: str,
    org: str,
    admin_token: str | None,
    params: dict[str, Any] | None = None,
) -> None:
    """``GET /api/v1/<kind>``: raw JSON, or a table of ``columns``."""
    with _client(url, org, admin_token) as c:
        body = c.call("GET", f"/api/v1/{kind}", params=params)
    if as_json:
        _echo_json(body)
    else:
        _table(body[kind], columns)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WayfareError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            body = getattr(exc, "body", None)
            report = body.get("report") if isinstance(body, dict) else None
            cause = report.get("cause") if isinstance(report, dict) else None
            if cause:
                for check in cause.get("_streamingValidation", []):
                    for v in check.get("causingExceptions", []):
                        click.echo(
                            f"  {v['pointerToViolation']}: {v['message']} ({v['keyword']})",
                            err=True,
                        )
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="wayfare")
def main() -> None:
    """Wayfare: event-triggered customer journeys behind an Adobe-compatible inlet."""


def _allow_option(fn: F) -> F:
    return click.option(
        "--allow-action-destination",
        "allow",
        multiple=True,
        metavar="HOST[:PORT]|CIDR",
        help="Let HTTP actions reach this host, address or network although the destination "
        "policy denies it (loopback, private, link-local, metadata); repeatable.",
    )(fn)


# serve
@main.command()
@click.option(
    "--host",
    default=None,
    help="Address to bind (default 127.0.0.1); any other needs --admin-token.",
)
@click.option("--port", type=int, default=None, help="Port to bind (default 8080).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the embedded store lives (default ./.wayfare).",
)
@click.option("--demo", is_flag=True, help="Create the demo org, schema, dataset and inlet.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="TOML settings file.",
)
@click.option(
    "--store",
    default=None,
    help="sqlite:///path (default: the file in --data-dir) or postgresql://user@host/db.",
)
@click.option(
    "--log",
    "event_log",
    default=None,
    help="The event log: embedded (default, with SQLite) or nats://host:4222 (PostgreSQL).",
)
@click.option("--admin-token", default=None, help="Require this bearer token on admin calls.")
@click.option(
    "--insecure-no-admin-token",
    is_flag=True,
    help="Serve on an address other than loopback without an admin token (refused otherwise).",
)
@click.option(
    "--rate-limit",
    type=float,
    default=None,
    help="Messages per second each inlet accepts before 429 (0: unlimited).",
)
@click.option("--public-url", default=None, help="Base URL printed in inlet URLs.")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="HTTP processes to run (default: one per core).",
)
@_allow_option
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    demo: bool,
    config_file: Path | None,
    store: str | None,
    event_log: str | None,
    admin_token: str | None,
    insecure_no_admin_token: bool,
    rate_limit: float | None,
    public_url: str | None,
    workers: int | None,
    allow: tuple[str, ...],
) -> None:
    """Start the Wayfare server: the inlet and the admin API.

    Embedded (the default), it keeps everything in one SQLite file and runs the journey
    engine itself. With --store postgresql://… --log nats://… it is stateless: start as
    many as you like behind a load balancer, and the journey engines with wayfare worker.
    Either way it runs --workers HTTP processes, one per core unless told.
    """
    from wayfare import serving
    from wayfare.bootstrap import build
    from wayfare.config import admin_exposure, load_settings
    from wayfare.registry.demo import (
        DEMO_EVENT,
        DEMO_INLET,
        DEMO_ORG,
        DEMO_SCHEMA,
        curl_command,
        demo_webhook,
        sample_message,
        setup_demo,
    )

    _log_lines()
    settings = load_settings(
        {
            "host": host,
            "port": port,
            "data_dir": data_dir,
            "store": store,
            "log": event_log,
            "admin_token": admin_token,
            "insecure_no_admin_token": insecure_no_admin_token or None,
            "demo": demo or None,  # off unless the flag, the environment or the file says
            "inlet_rate_limit": rate_limit,
            "public_url": public_url,
            "workers": workers,
            "action_allow": allow or None,
        },
        config_file=config_file,
    )
    if settings.demo:  # the demo journey calls the server's own /demo/webhook
        webhook = demo_webhook(settings.base_url)
        settings = dataclasses.replace(settings, action_allow=(*settings.action_allow, webhook))
    warning = admin_exposure(settings)  # before anything is created or migrated
    if warning is not None:
        logging.getLogger(__name__).warning("%s", warning)
    listening = serving.bind(settings)
    services = build(settings)
    if settings.demo:
        setup_demo(services.applier, settings.base_url)
        schema = services.schemas.get(DEMO_ORG, DEMO_SCHEMA)
        inlet = services.inlets.get(DEMO_ORG, DEMO_INLET)
        dataset = services.schemas.datasets(DEMO_ORG, DEMO_SCHEMA)[0]
        event = services.events.get(DEMO_ORG, DEMO_EVENT)
        message = sample_message(schema, event_id=event.event_id)
        url = inlet.url(settings.base_url)
        click.echo(
            f"\nWayfare demo is ready (org {DEMO_ORG}).\n\n"
            f"  inlet URL:  {url}\n  schema:     {schema.schema_id}\n"
            f"  dataset:    {dataset.dataset_id}\n\n"
            "Send your first event:\n\n"
            f"{curl_command(url + '?syncValidation=true', DEMO_ORG, message)}\n\n"
            f"Then look at it:  wayfare datasets tail {dataset.dataset_id}\n"
            f"and at its event: wayfare events messages {DEMO_EVENT}\n"
            f"and, a minute later, at the journey it entered: wayfare journeys report welcome\n"
        )
    _collect_less()
    serving.run(settings, services, listening)


@main.command("http-process", hidden=True)
def http_process() -> None:
    """One HTTP process of `wayfare serve --workers N`, which starts it: its settings and
    sockets come as one JSON line on stdin."""
    from wayfare import serving
    from wayfare.engine.process import read_first_line

    _log_lines()
    # Ctrl-C reaches the whole process group; the server then stops its processes in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    greeting = read_first_line()
    if not greeting.strip():
        raise click.UsageError("wayfare http-process is started by wayfare serve --workers N")
    _collect_less()
    serving.run_http_process(greeting)


def _log_lines() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per action


def _collect_less() -> None:
    # Parsed batches and engine cycles make many short-lived objects: collect them less
    # often, and leave the start-up heap out of every collection.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


@main.command(hidden=True)
def engine() -> None:
    """Run a server's journey engine: `wayfare serve` starts it and talks to it over stdin
    (its settings first, as one JSON line) and stdout."""
    import uvloop

    from wayfare.bootstrap import build_engine, engine_lock_path
    from wayfare.config import read_settings
    from wayfare.engine.process import read_first_line, serve_engine

    _log_lines()  # to the server's stderr, shaped like its own lines
    # Ctrl-C reaches the whole process group; the server then stops the engine in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    greeting = read_first_line()
    if not greeting.strip():
        raise click.UsageError(
            "wayfare engine reads its settings from stdin; wayfare serve starts it"
        )
    settings = read_settings(greeting.decode())
    services = build_engine(settings)
    _collect_less()
    uvloop.run(serve_engine(services, engine_lock_path(settings)))


@main.command()
@click.option("--store", default=None, help="postgresql://user@host:port/database")
@click.option("--log", "event_log", default=None, help="nats://host:4222 (comma-separated servers)")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="TOML settings file.",
)
@_allow_option
def worker(
    store: str | None, event_log: str | None, config_file: Path | None, allow: tuple[str, ...]
) -> None:
    """Run a journey engine (scale-out): it takes its share of the event log's partitions,
    runs the journeys of the people in them, and delivers their actions. Start any number,
    on any hosts; when one stops or dies, the others take its partitions over.

    \b
    Example:
      wayfare worker --store postgresql://wayfare@db/wayfare --log nats://nats:4222
    """
    import uvloop

    from wayfare.bootstrap import build_worker
    from wayfare.config import load_settings
    from wayfare.engine.process import serve_worker

    _log_lines()
    settings = load_settings(
        {"store": store, "log": event_log, "action_allow": allow or None},
        config_file=config_file,
    )
    services = build_worker(settings)
    _collect_less()
    uvloop.run(serve_worker(services))


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--store", default=None, help="sqlite:///path or postgresql://user@host/db")
@click.option("--log", "event_log", default=None, help="embedded or nats://host:4222")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="TOML settings file.",
)
def doctor(
    data_dir: Path | None, store: str | None, event_log: str | None, config_file: Path | None
) -> None:
    """Check a deployment: settings, the store and its migrations, the event log and its
    stream, which worker holds which partition. One line per check; exit code 1 if any
    fails.

    \b
    Example:
      wayfare doctor --store postgresql://wayfare@db/wayfare --log nats://nats:4222
    """
    from wayfare.config import load_settings
    from wayfare.doctor import diagnose

    settings = load_settings(
        {"data_dir": data_dir, "store": store, "log": event_log}, config_file=config_file
    )
    failed = False
    for check in diagnose(settings):
        click.echo(check.line())
        failed = failed or not check.ok
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--store", default=None, help="sqlite:///path (default: the file in --data-dir)")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="TOML settings file.",
)
def backup(path: Path, data_dir: Path | None, store: str | None, config_file: Path | None) -> None:
    """Copy the embedded store's database to PATH (a new file) while servers keep running:
    the copy holds every message acknowledged before it began. To restore, stop the
    server and put the copy in a data directory as wayfare.sqlite3 (README: Backup).

    \b
    Example:
      wayfare backup --data-dir .wayfare backups/wayfare-$(date +%F).sqlite3
    """
    from wayfare.bootstrap import deployment
    from wayfare.config import load_settings
    from wayfare.errors import WayfareError
    from wayfare.store.sqlite.backup import backup_database

    settings = load_settings({"data_dir": data_dir, "store": store}, config_file=config_file)
    try:
        database = deployment(settings).sqlite
        if database is None:
            raise click.ClickException(
                "backup copies the embedded SQLite store; back a PostgreSQL store up with pg_dump"
            )
        size = backup_database(database, path)
    except WayfareError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"backed up {database} to {path} ({size} bytes)")


# schemas
@main.group()
def schemas() -> None:
    """Schemas: list, show, create, update (new version)."""


def _load_file(path: Path) -> Any:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_load(text)
    return json.loads(text)


@schemas.command("list")
@admin_options
def schemas_list(as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    _list_resources("schemas", ["name", "version", "class", "id"], as_json, url, org, admin_token)


@schemas.command("show")
@click.argument("ref")
@click.option("--version", type=int, default=None)
@admin_options
def schemas_show(
    ref: str, version: int | None, as_json: bool, url: str, org: str, admin_token: str | None
) -> None:
    """Show one schema (by name, id or altId) with its full JSON Schema."""
    with _client(url, org, admin_token) as c:
        _echo_json(c.call("GET", f"/api/v1/schemas/{ref}", params={"version": version}))


@schemas.command("create")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@admin_options
def schemas_create(file: Path, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """Create a schema from a YAML or JSON definition."""
    with _client(url, org, admin_token) as c:
        body = c.call("POST", "/api/v1/schemas", json=_load_file(file))
    if as_json:
        _echo_json(body)
    else:
        click.echo(f"created schema {body['name']} version {body['version']}: {body['id']}")


@schemas.command("update")
@click.argument("ref")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@admin_options
def schemas_update(
    ref: str, file: Path, as_json: bool, url: str, org: str, admin_token: str | None
) -> None:
    """Add a version to a schema from a YAML or JSON definition."""
    with _client(url, org, admin_token) as c:
        body = c.call("PUT", f"/api/v1/schemas/{ref}", json=_load_file(file))
    if as_json:
        _echo_json(body)
    else:
        click.echo(f"schema {body['name']} is at version {body['version']}")


# datasets
@main.group()
def datasets() -> None:
    """Datasets: list, show, tail."""


@datasets.command("list")
@click.option("--schema", default=None, help="Only datasets of this schema.")
@admin_options
def datasets_list(
    schema: str | None, as_json: bool, url: str, org: str, admin_token: str | None
) -> None:
    _list_resources(
        "datasets",
        ["id", "name", "default"],
        as_json,
        url,
        org,
        admin_token,
        params={"schema": schema},
    )


@datasets.command("show")
@click.argument("dataset")
@admin_options
def datasets_show(dataset: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    with _client(url, org, admin_token) as c:
        _echo_json(c.call("GET", f"/api/v1/datasets/{dataset}"))


@datasets.command("tail")
@click.argument("dataset")
@click.option("-n", "--limit", type=int, default=10, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new records.")
@admin_options
def datasets_tail(
    dataset: str,
    limit: int,
    follow: bool,
    as_json: bool,
    url: str,
    org: str,
    admin_token: str | None,
) -> None:
    """Print the last records of a dataset, one JSON document per line."""
    with _client(url, org, admin_token) as c:
        path = f"/api/v1/datasets/{dataset}/records"
        records = c.call("GET", path, params={"limit": limit})["records"]
        last = 0
        while True:
            for record in records:
                click.echo(json.dumps(record, ensure_ascii=False))
                last = record["seq"]
            if not follow:
                return
            time.sleep(1.0)
            records = c.call("GET", path, params={"limit": 1000, "after": last})["records"]


# inlets
@main.group()
def inlets() -> None:
    """Inlets (HTTP API streaming connections): list, show, create, enable, disable, delete."""


@inlets.command("list")
@admin_options
def inlets_list(as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    _list_resources(
        "inlets",
        ["name", "dataType", "authenticationRequired", "state", "inletUrl"],
        as_json,
        url,
        org,
        admin_token,
    )


@inlets.command("show")
@click.argument("inlet")
@admin_options
def inlets_show(inlet: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    with _client(url, org, admin_token) as c:
        _echo_json(c.call("GET", f"/api/v1/inlets/{inlet}"))


@inlets.command("create")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option("--source-id", default="")
@click.option("--data-type", type=click.Choice(["xdm", "raw"]), default="xdm")
@click.option(
    "--auth/--no-auth",
    "authentication_required",
    default=False,
    help="Require a bearer token on collection calls.",
)
@click.option("--dataset", default=None, help="Raw inlets: the dataset to write to.")
@admin_options
def inlets_create(
    name: str,
    description: str,
    source_id: str,
    data_type: str,
    authentication_required: bool,
    dataset: str | None,
    as_json: bool,
    url: str,
    org: str,
    admin_token: str | None,
) -> None:
    spec = {
        "name": name,
        "description": description,
        "sourceId": source_id,
        "dataType": data_type,
        "authenticationRequired": authentication_required,
        "datasetId": dataset,
    }
    with _client(url, org, admin_token) as c:
        body = c.call("POST", "/api/v1/inlets", json=spec)
    if as_json:
        _echo_json(body)
        return
    click.echo(f"created inlet {body['name']}: {body['inletUrl']}")
    if "token" in body:
        click.echo(f"access token (shown once): {body['token']['accessToken']}")
    if body.get("flowId"):
        click.echo(f"flow id (x-adobe-flow-id): {body['flowId']}")


def _inlet_state(inlet: str, state: str, url: str, org: str, admin_token: str | None) -> None:
    with _client(url, org, admin_token) as c:
        body = c.call("PATCH", f"/api/v1/inlets/{inlet}", json={"state": state})
    click.echo(f"inlet {body['name']} is {body['state']}")


@inlets.command("disable")
@click.argument("inlet")
@admin_options
def inlets_disable(inlet: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    _inlet_state(inlet, "disabled", url, org, admin_token)


@inlets.command("enable")
@click.argument("inlet")
@admin_options
def inlets_enable(inlet: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    _inlet_state(inlet, "enabled", url, org, admin_token)


@inlets.command("delete")
@click.argument("inlet")
@admin_options
def inlets_delete(inlet: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    with _client(url, org, admin_token) as c:
        body = c.call("DELETE", f"/api/v1/inlets/{inlet}")
    click.echo(f"deleted inlet {body['deleted']}")


@inlets.command("token")
@click.argument("inlet")
@click.option("--expires-in", type=int, default=None, help="Seconds until the token expires.")
@click.option("--revoke", is_flag=True, help="Revoke every token of the inlet instead.")
@admin_options
def inlets_token(
    inlet: str,
    expires_in: int | None,
    revoke: bool,
    as_json: bool,
    url: str,
    org: str,
    admin_token: str | None,
) -> None:
    """Issue a bearer token for an authenticated inlet (or --revoke them all)."""
    with _client(url, org, admin_token) as c:
        if revoke:
            body = c.call("DELETE", f"/api/v1/inlets/{inlet}/tokens")
            click.echo(f"revoked {body['revoked']} token(s)")
            return
        body = c.call(
            "POST",
            f"/api/v1/inlets/{inlet}/tokens",
            json={"expiresInSeconds": expires_in} if expires_in else {},
        )
    if as_json:
        _echo_json(body)
    else:
        click.echo(body["accessToken"])


# events
@main.group()
def events() -> None:
    """Event configurations: list, show, create, delete, preview, messages."""


@events.command("list")
@admin_options
def events_list(as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    _list_resources(
        "events",
        ["name", "eventIdType", "namespace", "eventID", "schemaId"],
        as_json,
        url,
        org,
        admin_token,
    )


@events.command("show")
@click.argument("name")
@admin_options
def events_show(name: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    with _client(url, org, admin_token) as c:
        _echo_json(c.call("GET", f"/api/v1/events/{name}"))


@events.command("create")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@admin_options
def events_create(file: Path, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """Create an event configuration from a YAML or JSON definition."""
    with _client(url, org, admin_token) as c:
        body = c.call("POST", "/api/v1/events", json=_load_file(file))
    if as_json:
        _echo_json(body)
    else:
        click.echo(
            f"created event {body['name']} ({body['eventIdType']})"
            + (f": eventID {body['eventID']}" if body.get("eventID") else "")
        )


@events.command("delete")
@click.argument("name")
@admin_options
def events_delete(name: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    with _client(url, org, admin_token) as c:
        body = c.call("DELETE", f"/api/v1/events/{name}")
    click.echo(f"deleted event {body['deleted']}")


@events.command("preview")
@click.argument("name")
@admin_options
def events_preview(name: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """The exact message a data system must send (with --json: only the message)."""
    with _client(url, org, admin_token) as c:
        body = c.call("GET", f"/api/v1/events/{name}/payload-preview", params={"snippets": "true"})
    if as_json:
        _echo_json(body["payload"])
        return
    _echo_json(body["payload"])
    click.echo(f"\n# Send it with curl (replace the placeholders first):\n{body['curl']}")
    click.echo(f"\n# Or from Python:\n{body['python']}")


@events.command("messages")
@click.argument("name")
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@admin_options
def events_messages(
    name: str, limit: int, as_json: bool, url: str, org: str, admin_token: str | None
) -> None:
    """Did my messages match this event? Newest first, with the reason when not."""
    with _client(url, org, admin_token) as c:
        body = c.call("GET", f"/api/v1/events/{name}/messages", params={"limit": limit})
    if as_json:
        _echo_json(body)
        return
    if not body["messages"]:
        click.echo(
            f"no message has been matched against {name} yet: check that messages use "
            "its schema (wayfare failures shows rejected ones)"
        )
    for m in body["messages"]:
        verdict = f"matched  {m['identity']}" if m["matched"] else f"no match {m['reason']}"
        click.echo(f"{m['xactionId']}  {verdict}")


# send
def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _mapping(pairs: tuple[str, ...], mapping_file: Path | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    if mapping_file is not None:
        loaded = _load_file(mapping_file)
        if not isinstance(loaded, dict):
            raise click.UsageError(f"{mapping_file}: expected an object of PATH: FIELD")
        mapping.update({str(k): str(v) for k, v in loaded.items()})
    for pair in pairs:
        path, sep, field = pair.partition("=")
        if not sep or not path or not field:
            raise click.UsageError(f"--map {pair!r}: expected PATH=FIELD")
        mapping[path.strip()] = field.strip()
    return mapping


@main.command()
@click.option("--inlet-url", required=True, help="The inlet URL (Wayfare's or Adobe's).")
@click.option("--org", envvar="WAYFARE_ORG", required=True, help="Organisation id.")
@click.option(
    "--template",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="A message to fill in (e.g. a saved payload preview).",
)
@click.option("--event", default=None, help="Take the template from this event's preview.")
@click.option(
    "--input",
    "input_file",
    type=click.File("r"),
    required=True,
    help="CSV or JSON-lines file, or - for standard input.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Input format (default: from the file name, else csv).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="PATH=FIELD",
    help="Fill the xdmEntity path PATH from input field FIELD.",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="YAML/JSON file of PATH: FIELD.",
)
@click.option(
    "--omit",
    "omits",
    multiple=True,
    metavar="PATH",
    help="Leave this xdmEntity path out of every message.",
)
@click.option(
    "--rejects",
    type=click.File("w"),
    default=None,
    help="Write rejected input rows here, with a reason column.",
)
@click.option("--dry-run", is_flag=True, help="Print the filled messages; send nothing.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 5000), default=500, show_default=True)
@click.option("--token", envvar="WAYFARE_TOKEN", default=None, help="Inlet bearer token.")
@click.option(
    "--sync-validation/--no-sync-validation",
    default=True,
    show_default=True,
    help="Have the inlet reject invalid messages (so they are reported here).",
)
@click.option(
    "--url",
    envvar="WAYFARE_URL",
    default=None,
    help="Admin API base URL for --event (default: the inlet URL's origin).",
)
@click.option("--admin-token", envvar="WAYFARE_ADMIN_TOKEN", default=None)
def send(
    inlet_url: str,
    org: str,
    template: Path | None,
    event: str | None,
    input_file: Any,
    fmt: str | None,
    maps: tuple[str, ...],
    mapping_file: Path | None,
    omits: tuple[str, ...],
    rejects: Any,
    dry_run: bool,
    concurrency: int,
    batch_size: int,
    token: str | None,
    sync_validation: bool,
    url: str | None,
    admin_token: str | None,
) -> None:
    """Send rows of a CSV or JSON-lines file as messages, filled into a template."""
    import asyncio

    from wayfare.client.inlet import AsyncInlet
    from wayfare.client.mapping import Filler, MappingError
    from wayfare.client.send import read_rows, send_rows, write_rejects

    if (template is None) == (event is None):
        raise click.UsageError("give exactly one of --template FILE or --event NAME")
    admin_url = url or _origin(inlet_url)
    if event is not None:
        with _client(admin_url, org, admin_token) as c:
            message = c.call("GET", f"/api/v1/events/{event}/payload-preview")
    else:
        assert template is not None
        message = _load_file(template)
    json_schema = None
    schema_id = (
        (message.get("header", {}).get("schemaRef") or {}).get("id")
        if isinstance(message, dict)
        else None
    )
    if schema_id:
        try:
            with _client(admin_url, org, admin_token) as c:
                json_schema = c.call("GET", f"/api/v1/schemas/{schema_id}")["jsonSchema"]
        except WayfareError:
            json_schema = None  # not a Wayfare server (e.g. Adobe): types from placeholders
    try:
        filler = Filler.compile(message, _mapping(maps, mapping_file), json_schema, omits)
    except MappingError as exc:
        raise click.UsageError(str(exc)) from None
    unmapped = filler.unmapped_placeholders()
    if unmapped:
        click.secho(
            "error: these placeholders are not mapped (use --map PATH=FIELD, --omit PATH, "
            "or put a value in the template):",
            fg="red",
            err=True,
        )
        for path in unmapped:
            click.echo(f"  {path}", err=True)
        sys.exit(2)
    name = getattr(input_file, "name", "")
    fmt = fmt or ("jsonl" if str(name).endswith((".jsonl", ".ndjson", ".json")) else "csv")
    rows = read_rows(input_file, fmt)
    if dry_run:
        bad = 0
        for row in rows:
            error = row.data.get("__error__")
            if error is None:
                try:
                    click.echo(json.dumps(filler.fill(row.data), ensure_ascii=False))
                    continue
                except MappingError as exc:
                    error = str(exc)
            bad += 1
            click.echo(f"  line {row.line}: {error}", err=True)
        if bad:
            sys.exit(1)
        return

    async def run() -> Any:
        from rich.progress import Progress

        async with AsyncInlet(inlet_url, org, token, sync_validation=sync_validation) as inlet:
            if not sys.stderr.isatty():
                return await send_rows(
                    rows, filler, inlet, batch_size=batch_size, concurrency=concurrency
                )
            with Progress(transient=True) as bar:
                task = bar.add_task("sending", total=None)
                return await send_rows(
                    rows,
                    filler,
                    inlet,
                    batch_size=batch_size,
                    concurrency=concurrency,
                    progress=lambda n: bar.advance(task, n),
                )

    summary = asyncio.run(run())
    click.echo(
        f"read {summary.read}, sent {summary.sent}, accepted {summary.accepted}, "
        f"rejected {len(summary.rejected)}, retried {summary.retried}"
    )
    for r in summary.rejected[:100]:
        click.echo(f"  line {r.line}: {r.reason}", err=True)
    if len(summary.rejected) > 100:
        click.echo(f"  ... and {len(summary.rejected) - 100} more", err=True)
    if rejects is not None:
        write_rejects(rejects, fmt, summary.rejected)
    if summary.rejected:
        sys.exit(1)


# journeys
@main.group()
def journeys() -> None:
    """Journeys: list, show, save, publish, close, stop, resume, test mode, report."""


@journeys.command("list")
@admin_options
def journeys_list(as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    _list_resources(
        "journeys",
        ["name", "version", "state", "testMode", "entryEvent"],
        as_json,
        url,
        org,
        admin_token,
    )


@journeys.command("show")
@click.argument("name")
@click.option("--version", type=int, default=None)
@admin_options
def journeys_show(
    name: str, version: int | None, as_json: bool, url: str, org: str, admin_token: str | None
) -> None:
    with _client(url, org, admin_token) as c:
        _echo_json(c.call("GET", f"/api/v1/journeys/{name}", params={"version": version}))


@journeys.command("save")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@admin_options
def journeys_save(file: Path, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """Save a journey definition (YAML/JSON) as a draft: a new version if one is live."""
    with _client(url, org, admin_token) as c:
        body = c.call("POST", "/api/v1/journeys", json=_load_file(file))
    click.echo(f"journey {body['name']} version {body['version']} is {body['state']}")


def _journey_command(
    name: str, command: str, url: str, org: str, admin_token: str | None, payload: Any = None
) -> Any:
    with _client(url, org, admin_token) as c:
        return c.call("POST", f"/api/v1/journeys/{name}/{command}", json=payload or {})


@journeys.command("publish")
@click.argument("name")
@admin_options
def journeys_publish(name: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """Make the draft live (the previous live version is closed)."""
    body = _journey_command(name, "publish", url, org, admin_token)
    click.echo(f"journey {name} version {body['version']} is {body['state']}")


@journeys.command("close")
@click.argument("name")
@admin_options
def journeys_close(name: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """No new entries; people inside finish their way."""
    body = _journey_command(name, "close", url, org, admin_token)
    click.echo(f"journey {name} version {body['version']} is {body['state']}")


@journeys.command("stop")
@click.argument("name")
@admin_options
def journeys_stop(name: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """Every person inside exits now."""
    body = _journey_command(name, "stop", url, org, admin_token)
    line = f"journey {name} stopped; {body['exited']} instance(s) exited"
    if body.get("exiting"):
        line += f", {body['exiting']} still exiting"
    click.echo(line)


@journeys.command("resume")
@click.argument("name")
@admin_options
def journeys_resume(name: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """Take people in again after the journey engine paused the journey (its steps kept
    failing: `journeys show` and `journeys report` say why)."""
    body = _journey_command(name, "resume", url, org, admin_token)
    click.echo(f"journey {name} version {body['version']} is {body['state']} and takes people in")


@journeys.command("test-mode")
@click.argument("name")
@click.argument("state", type=click.Choice(["on", "off"]))
@admin_options
def journeys_test_mode(
    name: str, state: str, as_json: bool, url: str, org: str, admin_token: str | None
) -> None:
    body = _journey_command(name, "test-mode", url, org, admin_token, {"enabled": state == "on"})
    click.echo(f"journey {name} version {body['version']}: test mode {state}")


@journeys.command("test-event")
@click.argument("name")
@click.option("--identity", required=True, help="The test profile's identity.")
@click.option(
    "--payload",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="An xdmEntity (JSON/YAML); default: the event's preview.",
)
@admin_options
def journeys_test_event(
    name: str,
    identity: str,
    payload: Path | None,
    as_json: bool,
    url: str,
    org: str,
    admin_token: str | None,
) -> None:
    """Fire the entry event for a test profile into a draft in test mode."""
    body = _journey_command(
        name,
        "test-event",
        url,
        org,
        admin_token,
        {"identity": identity, "payload": _load_file(payload) if payload else None},
    )
    if body.get("taken", True):
        click.echo(f"{identity} entered journey {name} version {body['version']} (test)")
    else:
        click.echo(
            f"{identity} is queued for journey {name} version {body['version']} (test): "
            "no journey engine has taken it yet"
        )


@journeys.command("report")
@click.argument("name")
@admin_options
def journeys_report(name: str, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """Entered, exited, in error and discarded, for the journey and per activity."""
    with _client(url, org, admin_token) as c:
        body = c.call("GET", f"/api/v1/journeys/{name}/report")
    if as_json:
        _echo_json(body)
        return
    click.echo(
        f"journey {name} version {body['version']} ({body['state']}): entered "
        f"{body['entered']}, in journey {body['inJourney']}, exited {body['exited']}, "
        f"in error {body['inError']}, discarded {body['discarded']}"
    )
    for pause in body["paused"]:
        click.echo(f"  version {pause['version']} is paused: {pause['reason']}")
    for cause, count in body["discardsByCause"].items():
        click.echo(f"  discarded, {cause}: {count}")
    rows = [{"activity": node, **counts} for node, counts in body["nodes"].items()]
    _table(rows, ["activity", "type", "ended", "error", "timedout", "exited"])


@journeys.command("steps")
@click.argument("name")
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@admin_options
def journeys_steps(
    name: str, limit: int, as_json: bool, url: str, org: str, admin_token: str | None
) -> None:
    """The latest step events, newest first."""
    with _client(url, org, admin_token) as c:
        body = c.call("GET", f"/api/v1/journeys/{name}/steps", params={"limit": limit})
    if as_json:
        _echo_json(body)
    else:
        _table(body["steps"], ["seq", "identity", "node", "nodeType", "status", "detail"])


# failures
@main.command()
@click.option("--inlet", default=None, help="Only failures of this inlet (id or name).")
@click.option("--since", default=None, help="From this time (ms or ISO 8601).")
@click.option("--until", default=None, help="Before this time (ms or ISO 8601).")
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@admin_options
def failures(
    inlet: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
    url: str,
    org: str,
    admin_token: str | None,
) -> None:
    """Failed records: accepted messages that broke their schema, with every reason."""
    with _client(url, org, admin_token) as c:
        body = c.call(
            "GET",
            "/api/v1/failures",
            params={"inletId": inlet, "since": since, "until": until, "limit": limit},
        )
    if as_json:
        _echo_json(body)
        return
    if not body["failures"]:
        click.echo("no failed records")
    for f in body["failures"]:
        click.echo(f"{f['xactionId']}  inlet {f['inletId'][:12]}…  received {f['receivedTimeMs']}")
        for reason in f["reasons"]:
            click.echo(
                f"  {reason['pointerToViolation']}: {reason['message']} ({reason['keyword']})"
            )


# apply
def _documents(path: Path) -> list[Any]:
    files = (
        sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
        if path.is_dir()
        else [path]
    )
    docs: list[Any] = []
    for file in files:
        text = file.read_text()
        if file.suffix == ".json":
            loaded = json.loads(text)
            docs.extend(loaded if isinstance(loaded, list) else [loaded])
        else:
            docs.extend(d for d in yaml.safe_load_all(text) if d is not None)
    return docs


@main.command()
@click.argument("path", type=click.Path(path_type=Path, exists=True))
@admin_options
def apply(path: Path, as_json: bool, url: str, org: str, admin_token: str | None) -> None:
    """Apply YAML/JSON definitions (Org, Schema, Dataset, Inlet) idempotently."""
    documents = _documents(path)
    with _client(url, org, admin_token) as c:
        body = c.call("POST", "/api/v1/apply", json={"documents": documents})
    if as_json:
        _echo_json(body)
        return
    for item in body["applied"]:
        line = f"{item['kind']:<8} {item['name']:<30} {item['action']:<10} {item['id']}"
        click.echo(line)
        if "accessToken" in item:
            click.echo(f"         access token (shown once): {item['accessToken']}")
