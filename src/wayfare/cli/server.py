"""Running Wayfare: ``serve``, ``worker``, ``doctor``, and the processes ``serve`` starts
(``engine``, ``http-process``, hidden)."""

from __future__ import annotations

import dataclasses
import gc
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wayfare.observability.shared_dir import with_shared_metrics_dir

F = TypeVar("F", bound=Callable[..., Any])


_config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="TOML settings file.",
)


def _log_options(fn: F) -> F:
    """--log-format and --log-level, for the commands that run a server or an engine."""
    fn = click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default=None,
        help="The least severe log lines written (default info).",
    )(fn)
    fn = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default=None,
        help="Log lines as text (default) or JSON, one object a line.",
    )(fn)
    return fn


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
@click.command()
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
@_config_option
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
@_log_options
@click.option(
    "--access-log", is_flag=True, help="Log one line per HTTP request (never a header or token)."
)
@_allow_option
@with_shared_metrics_dir  # before the command imports anything that imports prometheus-client
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
    log_format: str | None,
    log_level: str | None,
    access_log: bool,
    allow: tuple[str, ...],
) -> None:
    """Start the Wayfare server: the inlet and the admin API.

    It runs --workers HTTP processes (one per core unless told) on one port.
    Embedded (the default), it keeps everything in one SQLite file: each HTTP process
    commits what it accepts, the process it starts from counts the backlog and the rate
    limits for all of them and runs the journey engine. With --store postgresql://… --log
    nats://… each HTTP process is a whole stateless server: start as many servers as you
    like behind a load balancer, and the journey engines with wayfare worker. It prints one
    line once it listens; /metrics, /healthz and /readyz tell how it is doing.

    \b
    Examples:
      wayfare serve --demo
      wayfare serve --port 9000 --workers 2 --data-dir /var/lib/wayfare
      wayfare serve --store postgresql://wayfare@db/wayfare --log nats://nats:4222
    """
    from wayfare import serving
    from wayfare.bootstrap import build, deployment
    from wayfare.config import admin_exposure, load_settings
    from wayfare.observability.logs import configure_logging
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
    from wayfare.store.sqlite.files import hold_data_dir

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
            "log_format": log_format,
            "log_level": log_level,
            "access_log": access_log or None,
            "action_allow": allow or None,
        },
        config_file=config_file,
    )
    configure_logging(settings.log_level, settings.log_format)
    if settings.demo:  # the demo journey calls the server's own /demo/webhook
        webhook = demo_webhook(settings.base_url)
        settings = dataclasses.replace(settings, action_allow=(*settings.action_allow, webhook))
    warning = admin_exposure(settings)  # before anything is created or migrated
    if warning is not None:
        logging.getLogger(__name__).warning("%s", warning)
    if deployment(settings).sqlite is not None:  # held until the process ends
        hold_data_dir(settings.data_dir)
    listening = serving.bind(settings)
    click.echo(serving.listening_line(settings))
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


@click.command("http-process", hidden=True)
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
    """Log lines as the defaults say, until the command has read its settings."""
    from wayfare.observability.logs import configure_logging

    configure_logging()


def _collect_less() -> None:
    # Parsed batches and engine cycles make many short-lived objects: collect them less
    # often, and leave the start-up heap out of every collection.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


@click.command(hidden=True)
def engine() -> None:
    """Run a server's journey engine: `wayfare serve` starts it and talks to it over stdin
    (its settings first, as one JSON line) and stdout."""
    import uvloop

    from wayfare.bootstrap import build_engine, engine_lock_path
    from wayfare.config import read_settings
    from wayfare.engine.process import read_first_line, serve_engine
    from wayfare.observability.logs import configure_logging

    _log_lines()  # to the server's stderr, shaped like its own lines
    # Ctrl-C reaches the whole process group; the server then stops the engine in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    greeting = read_first_line()
    if not greeting.strip():
        raise click.UsageError(
            "wayfare engine reads its settings from stdin; wayfare serve starts it"
        )
    settings = read_settings(greeting.decode())
    configure_logging(settings.log_level, settings.log_format)
    services = build_engine(settings)
    _collect_less()
    uvloop.run(serve_engine(services, engine_lock_path(settings)))


@click.command()
@click.option("--store", default=None, help="postgresql://user@host:port/database")
@click.option("--log", "event_log", default=None, help="nats://host:4222 (comma-separated servers)")
@_config_option
@_log_options
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Answer GET /metrics on this port of --host (default: not at all).",
)
@click.option("--host", default=None, help="Address --metrics-port binds (default 127.0.0.1).")
@_allow_option
def worker(
    store: str | None,
    event_log: str | None,
    config_file: Path | None,
    log_format: str | None,
    log_level: str | None,
    metrics_port: int | None,
    host: str | None,
    allow: tuple[str, ...],
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
    from wayfare.observability.logs import configure_logging
    from wayfare.observability.metrics import serve_metrics

    _log_lines()
    settings = load_settings(
        {
            "store": store,
            "log": event_log,
            "log_format": log_format,
            "log_level": log_level,
            "metrics_port": metrics_port,
            "host": host,
            "action_allow": allow or None,
        },
        config_file=config_file,
    )
    configure_logging(settings.log_level, settings.log_format)
    services = build_worker(settings)
    if settings.metrics_port:
        serve_metrics(settings.host, settings.metrics_port)
    _collect_less()
    uvloop.run(serve_worker(services))


@click.command()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--store", default=None, help="sqlite:///path or postgresql://user@host/db")
@click.option("--log", "event_log", default=None, help="embedded or nats://host:4222")
@_config_option
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


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--store", default=None, help="sqlite:///path (default: the file in --data-dir)")
@_config_option
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
