"""Settings, read once from ``WAYFARE_*`` environment variables and an optional TOML file.

Precedence: explicit overrides (command-line flags) > environment > TOML file > defaults.
No other module reads the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from wayfare.errors import InvalidRequestError
from wayfare.model.destinations import parse_allowed

ONE_MB = 1024 * 1024


CONSOLE_SECRET_FILE = "console-secret"  # noqa: S105 (a file name, not a secret)
"""In ``data_dir``: the console's generated key, when ``console_secret`` is unset."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    """Address the HTTP server binds to."""
    port: int = 8080
    """Port the HTTP server binds to."""
    workers: int = 0
    """HTTP processes ``serve`` runs (0: one per core), each on a listening socket of its own
    on ``port``. Embedded, each commits what it accepts, admitted by the process that starts
    them."""
    data_dir: Path = Path(".wayfare")
    """Where the embedded store keeps its SQLite file (unless ``store`` names another)."""
    store: str | None = None
    """Where state lives: ``sqlite:///path/to/file`` (default: the file in ``data_dir``) or
    ``postgresql://user@host:port/database`` (scale-out)."""
    log: str = "embedded"
    """The event log journey engines consume: ``embedded`` (the SQLite store's own tables)
    or ``nats://host:port`` (JetStream; scale-out, with a PostgreSQL store; several
    servers of one cluster comma-separated)."""
    log_prefix: str = "wayfare"
    """Scale-out: the JetStream stream's name and its subjects' first token."""
    log_partitions: int = 16
    """Scale-out: partitions of the event log, fixed when its stream is created; each is
    held by one worker at a time, so this bounds how many workers share the work."""
    lease_seconds: float = 6.0
    """Scale-out: how long a worker's lease on a partition lasts unless renewed (every
    third of it); a dead worker's partitions move to the others within about this long."""
    public_url: str | None = None
    """Base URL printed in inlet URLs; defaults to http://host:port."""
    admin_token: str | None = None
    """When set, every admin call must carry ``Authorization: Bearer <admin_token>``."""
    console_secret: str | None = None
    """The key the console signs its session cookies with; unset, one is generated in
    ``data_dir`` (file ``console-secret``). Give the same one to every server behind one
    address."""
    insecure_no_admin_token: bool = False
    """Serve on an address other than loopback without an admin token: anyone who reaches
    the server can then read and change every org. Off, such a start is refused."""
    demo: bool = False
    """Set up the demo (org, schema, dataset, inlet, journey) at start and answer its
    journey's webhook at ``/demo/webhook``; reading what that received takes the admin
    token, when one is set. Off, ``/demo/webhook`` does not exist."""
    max_request_bytes: int = ONE_MB
    """Collection requests over this size get 413."""
    max_batch_messages: int = 5000
    """Messages one batch request may hold; more get 413 (``wayfare send`` sends at most
    5,000 a request)."""
    max_admin_request_bytes: int = 10 * ONE_MB
    """Admin API requests over this size get 413 (``apply`` of many resources is the
    largest legitimate one)."""
    max_request_bytes_in_flight: int = 32 * ONE_MB
    """Bytes of request bodies (inlet and admin) this process reads and handles at once; a
    request that would pass it gets 503 with Retry-After before its body is read. Parsed and
    waiting to be written, they take about five times as much memory."""
    max_discard_bytes: int = 16 * ONE_MB
    """An error answered before the body was read (413, 503, 404, ...) first reads and drops
    up to this much of the body, so clients that write it all before reading see the
    answer; past it, the answer closes the connection."""
    header_timeout_seconds: float = 10.0
    """A request's line and headers must arrive within this long of the connection opening
    (or of the previous answer), else 408 and the connection is closed."""
    body_timeout_seconds: float = 30.0
    """A request's body must arrive within this long of its headers, else 408 and the
    connection is closed."""
    max_header_bytes: int = 64 * 1024
    """A request's line and headers over this size get 431 and the connection is closed."""
    inlet_rate_limit: float = 0.0
    """Messages per second each inlet accepts before 429 (0 = unlimited)."""
    inlet_rate_burst: float = 0.0
    """Bucket size for the inlet rate limit (0 = one second's worth)."""
    max_pending_messages: int = 100_000
    """Messages waiting for the writer before the inlet answers 503."""
    fsync: bool = True
    """Commit with fsync (SQLite synchronous=FULL); off keeps commits safe from a killed
    process but not from a power cut."""
    smtp_host: str = "127.0.0.1"
    """SMTP server email actions are sent through."""
    smtp_port: int = 25
    """Its port."""
    smtp_from: str = "wayfare@localhost"
    """Sender address of email actions that name none."""
    action_rate_per_host: float = 0.0
    """Custom HTTP actions per second to each host (0 = unlimited)."""
    action_allow: tuple[str, ...] = ()
    """Destinations HTTP actions may reach although the destination policy denies them
    (loopback, private, link-local and metadata addresses, ``localhost``): host names,
    addresses or networks (CIDR), each optionally with ``:port``. A TOML list, or
    comma-separated in ``WAYFARE_ACTION_ALLOW``."""
    actions_per_host: int = 32
    """Actions in flight at once to each host (and connections kept open to it)."""
    engine_process: bool = True
    """Run the journey engine in a process of its own (another core) rather than the
    server's."""
    action_worker: bool = True
    """Deliver actions from a child process (another core) rather than the server's own."""
    test_wait_seconds: float = 10.0
    """In test mode, waits and timeouts last at most this long."""
    journey_failure_limit: int = 20
    """A journey version whose steps fail this many times in a row (a recursion limit, a
    value nothing can take, a bug; none of its steps going through in between) is paused:
    it takes no one in until `wayfare journeys resume`. Each failure ends only its own
    instance in error; 0 never pauses."""
    cache_ttl_seconds: float = 2.0
    """How long an inlet or token looked up from the store is trusted before a re-read."""
    catalog_cache_entries: int = 10_000
    """Inlets, and tokens, the inlet keeps in memory at most (each; unknown ones included):
    past it, the least recently used are dropped and read again when asked for."""
    log_format: str = "text"
    """Log lines as ``text`` (time, level, logger, message) or ``json`` (one object a
    line), for the server, workers and every process they start."""
    log_level: str = "info"
    """The least severe log lines written: ``debug``, ``info``, ``warning`` or ``error``."""
    access_log: bool = False
    """One log line per HTTP request (method, path without its query, status, duration,
    bytes sent); never a header or a token."""
    metrics_port: int = 0
    """``wayfare worker``: answer ``GET /metrics`` on this port of ``host`` (0: not at
    all). ``serve`` answers it on its own port."""
    ready_max_lag: int = 10_000
    """``/readyz`` answers 503 while the journey engine has more accepted messages than this
    left to consume."""
    step_event_retention_days: int = 0
    """Journey step events older than this many days are deleted in the background (the
    reports' counts stay); 0 keeps them. A dataset's own is its ``retentionDays``."""
    person_event_retention_days: int = 30
    """Experience events of profile-enabled datasets are kept for the person (their
    profile shows them) this many days, by the event's time; 0 keeps none. The records
    themselves stay in their dataset, by its ``retentionDays``."""
    person_events_per_identity: int = 500
    """... and at most this many, the newest, for each identity of a person (a person holds
    at most 50 identities); 0 keeps none."""
    retention_interval_seconds: float = 3600.0
    """How often the server deletes what is past its retention (in chunks of 1,000 rows)."""

    @property
    def http_processes(self) -> int:
        return self.workers if self.workers > 0 else len(os.sched_getaffinity(0))

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server to this machine (a name other than
    ``localhost`` may resolve to anything: it does not)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def admin_exposure(settings: Settings) -> str | None:
    """Refuse (InvalidRequestError) an admin API open to the network by mistake: a bind
    beyond loopback without an admin token. Open on purpose (``insecure_no_admin_token``),
    the warning to log; else None."""
    if settings.admin_token or is_loopback(settings.host):
        return None
    if settings.insecure_no_admin_token:
        return (
            f"the admin API on {settings.host} takes calls without a token "
            "(--insecure-no-admin-token): anyone who reaches it can read and change every org"
        )
    raise InvalidRequestError(
        f"refusing to serve on {settings.host} without an admin token: anyone who reaches it "
        "could read and change every org. Give one (--admin-token, WAYFARE_ADMIN_TOKEN or "
        "admin_token in the settings file), bind to 127.0.0.1, or give "
        "--insecure-no-admin-token (WAYFARE_INSECURE_NO_ADMIN_TOKEN) to serve it open anyway"
    )


_ENV_PREFIX = "WAYFARE_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _coerce(field: dataclasses.Field[Any], raw: Any) -> Any:
    kind = str(field.type)
    if raw is None:
        return None
    try:
        if "Path" in kind:
            return Path(raw)
        if kind == "bool":
            if isinstance(raw, str):
                word = raw.strip().lower()
                if word not in _TRUE | _FALSE:
                    raise ValueError(word)
                return word in _TRUE
            return bool(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "tuple[str, ...]":
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(item).strip() for item in items if str(item).strip())
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"setting {field.name}: cannot read {raw!r} as {kind}") from exc
    return str(raw)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the frozen settings object. ``overrides`` with value None are ignored."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (
        Path(env[f"{_ENV_PREFIX}CONFIG"]) if f"{_ENV_PREFIX}CONFIG" in env else None
    )
    if path is not None:
        with path.open("rb") as fh:
            values.update(tomllib.load(fh))
    known = {f.name: f for f in fields(Settings)}
    for name in known:
        key = _ENV_PREFIX + name.upper()
        if key in env:
            values[name] = env[key]
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    unknown = set(values) - set(known)
    if unknown:
        raise InvalidRequestError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    settings = Settings(**{name: _coerce(known[name], value) for name, value in values.items()})
    if settings.log_format not in ("text", "json"):
        raise InvalidRequestError(
            f"setting log_format: give text or json, not {settings.log_format!r}"
        )
    if settings.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise InvalidRequestError(
            f"setting log_level: give debug, info, warning or error, not {settings.log_level!r}"
        )
    for entry in settings.action_allow:
        parse_allowed(entry)  # a wrong entry stops the command here, with its words
    return settings


def dump_settings(settings: Settings) -> str:
    """The settings as JSON, for a child process; ``read_settings`` reads them back."""
    return json.dumps(
        {f.name: _plain(getattr(settings, f.name)) for f in fields(Settings)}, sort_keys=True
    )


def read_settings(text: str) -> Settings:
    """Settings from ``dump_settings``: exactly those, whatever the environment says."""
    return load_settings(json.loads(text), environ={})


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
