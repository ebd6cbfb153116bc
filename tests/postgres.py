"""PostgreSQL for tests: a database of the test session's own on the machine's server, and
private servers that tests may kill and restart.

The machine's server is at ``WAYFARE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``, a user allowed to create databases). Tests
share one migrated database, ``wayfare_test_<random>``, created for the session and dropped
after it; ``pg_database`` empties it before each test.

Private servers (``private_postgres``) are initdb + postgres in a temporary directory, on a
free port with their socket in that directory and fsync on. initdb and postgres refuse to run
as root: as root they run as ``nobody``, which every Debian has, in a directory it owns.
Binaries come from ``WAYFARE_TEST_POSTGRES_BIN`` or the newest /usr/lib/postgresql/*/bin.

With ``CI=true`` a server that cannot be reached (or binaries that cannot be found) fails the
tests that need them; otherwise those tests are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from yoyo import get_backend, read_migrations

from tests.conftest import free_port, wait_until
from tests.processes import alive, live_processes
from wayfare.errors import StoreError
from wayfare.store.postgres.connection import connect, migrate, yoyo_url

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
UNPRIVILEGED_USER = "nobody"
KEPT_TABLES = ("journey_generation", "resource_generation")
"""Tables a test starts from as migrated rather than empty."""


def unavailable(reason: str) -> NoReturn:
    """Fail under CI, else skip: a test that needs PostgreSQL never passes without it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required when CI=true: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL is not available: {reason}")


def with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@contextlib.contextmanager
def fresh_database(server_url: str, *, without: str | None = None) -> Iterator[str]:
    """A new, migrated database on ``server_url``'s server (its URL), dropped afterwards;
    ``without``: migrated only up to the migration of that id, not included."""
    name = f"wayfare_test_{uuid.uuid4().hex[:12]}"
    with connect(server_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = with_database(server_url, name)
        if without is None:
            migrate(url)
        else:
            _migrate_up_to(url, without)
        yield url
    finally:
        with connect(server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _migrate_up_to(url: str, without: str) -> None:
    source = resources.files("wayfare.store.postgres") / "migrations"
    with resources.as_file(source) as folder:
        migrations = read_migrations(str(folder))
    backend = get_backend(yoyo_url(url))
    try:
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations).filter(lambda m: m.id < without))
    finally:
        backend.connection.close()


def empty_database(url: str) -> None:
    """Delete every row a test may have written (DELETE beats TRUNCATE on tiny tables)."""
    with connect(url) as conn, conn.transaction():
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename NOT LIKE %s AND tablename <> ALL(%s)",
            ("%yoyo%", list(KEPT_TABLES)),
        ).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        conn.execute("UPDATE journey_generation SET n = 0")
        conn.execute("UPDATE resource_generation SET n = 0")


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The machine's server, reachable (or the test fails under CI, else is skipped)."""
    url = os.environ.get("WAYFARE_TEST_POSTGRES_URL", DEFAULT_SERVER_URL)
    try:
        connect(url).close()
    except StoreError as exc:
        unavailable(f"{exc} (set WAYFARE_TEST_POSTGRES_URL to use another server)")
    return url


@pytest.fixture(scope="session")
def pg_session_database(pg_server_url: str) -> Iterator[str]:
    with fresh_database(pg_server_url) as url:
        yield url


@pytest.fixture
def pg_database(pg_session_database: str) -> str:
    """The URL of the session's database, emptied for this test."""
    empty_database(pg_session_database)
    return pg_session_database


# Private servers


def postgres_bin() -> Path:
    configured = os.environ.get("WAYFARE_TEST_POSTGRES_BIN")
    candidates = (
        [Path(configured)]
        if configured
        else sorted(
            (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
    )
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    unavailable(
        f"no initdb and postgres in {configured or '/usr/lib/postgresql/*/bin'} "
        "(set WAYFARE_TEST_POSTGRES_BIN)"
    )


def _as_user() -> dict[str, Any]:
    """Popen arguments that drop root for the unprivileged user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _give_away(path: Path) -> None:
    """Make ``path`` and all below it the unprivileged user's (when running as root)."""
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    os.chown(path, user.pw_uid, user.pw_gid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


def _private_dir() -> Path:
    # Not under pytest's tmp_path: its root is root's alone, and the server runs as nobody.
    path = Path(tempfile.mkdtemp(prefix="wayfare-pg-"))
    _give_away(path)
    return path


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of a test's own, in ``root``: ``kill()`` (SIGKILL to every one of
    its processes, as a crash), ``start()``, ``restart()`` (kill, then start: recovery),
    ``stop()`` (a clean shutdown); ``url`` reaches its ``postgres`` database over TCP."""

    root: Path
    bin: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    """The address it listens on (another than loopback for a test's network namespaces)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> PrivatePostgres:
        assert not self.running, "already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    *("-D", str(self.data), "-p", str(self.port), "-k", str(self.root)),
                    *("-c", f"listen_addresses={self.host}", "-c", "fsync=on"),
                    *("-c", "synchronous_commit=on", "-c", "full_page_writes=on"),
                    *("-c", "shared_buffers=16MB", "-c", "max_connections=30"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes its children
                **_as_user(),
            )
        wait_until(self._ready, timeout=30)
        return self

    def _ready(self) -> bool:
        if not self.running:
            raise AssertionError(f"postgres exited: {self.log.read_text()[-2000:]}")
        try:
            psycopg.connect(self.url, connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend at once: nothing is flushed or shut
        down; what was committed must come back from the WAL. Each child of the postmaster
        is a session of its own (PostgreSQL calls setsid() in every child), so a kill of
        the postmaster's process group would leave the backends serving their connections
        for a moment: the postmaster is stopped first (it forks no more), then it and its
        children are killed, and the kill waits until all of them are gone."""
        if self.process is None:
            return
        postmaster = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(postmaster, signal.SIGSTOP)
        family = [postmaster, *(pid for pid, f in live_processes() if int(f[1]) == postmaster)]
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        wait_until(lambda: not any(alive(pid) for pid in family), timeout=10)

    def restart(self) -> PrivatePostgres:
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def private_postgres_template() -> Iterator[tuple[Path, Path]]:
    """One initdb for the session: (binaries, a data directory to copy)."""
    bin_dir = postgres_bin()
    root = _private_dir()
    try:
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                *("-D", str(root / "data"), "-U", "postgres", "--auth=trust"),
                *("-E", "UTF8", "--locale=C", "--no-instructions", "--no-sync"),
            ],
            check=True,
            capture_output=True,
            **_as_user(),
        )
        yield bin_dir, root / "data"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_private_postgres(
    template: tuple[Path, Path], host: str = "127.0.0.1", clients: str | None = None
) -> Iterator[PrivatePostgres]:
    """A private server from ``private_postgres_template``, listening on ``host`` and
    trusting connections from loopback and the network ``clients`` (a CIDR); stopped and
    removed afterwards."""
    bin_dir, data = template
    root = _private_dir()
    shutil.copytree(data, root / "data")
    if clients is not None:
        with (root / "data" / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {clients} trust\n")
    _give_away(root)
    server = PrivatePostgres(root, bin_dir, host=host)
    try:
        yield server.start()
    finally:
        server.stop()
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def private_postgres(private_postgres_template: tuple[Path, Path]) -> Iterator[PrivatePostgres]:
    """A private server, started; stopped and removed after the test."""
    with running_private_postgres(private_postgres_template) as server:
        yield server
