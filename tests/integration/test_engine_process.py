"""The journey engine in a process of its own: ``EngineProcess`` driving the real ``wayfare
engine`` on a migrated data directory, ``EngineProcess`` over a small fake child (the
greeting, wakes, a child that dies and is replaced, stop), two real engines on one data
directory taking turns on ``engine.lock``, and a server told to keep the engine in its own
process (``WAYFARE_ENGINE_PROCESS=false``).

The server only wakes its engine; work reaches the engine through the store. The tests see a
real engine act by queueing a test entry (a test profile entering a draft in test mode) and
watching the store until the engine has taken it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

from tests.integration.conftest import apply_demo_to, new_org, start_server
from tests.integration.journey_support import (
    hole,
    instance_ids,
    publish,
    running_receiver,
    send,
    setup_shop,
    shop_message,
    wait_for_report,
)
from tests.processes import alive
from wayfare.config import Settings, dump_settings, load_settings
from wayfare.engine.process import EngineProcess
from wayfare.model.runs import JourneyVersion, TestEntry
from wayfare.store.sqlite.connection import database_path, migrate
from wayfare.store.sqlite.journeys import SQLiteJourneyStore

pytestmark = pytest.mark.integration

ORG = "ACME@AdobeOrg"
DEADLINE = 10.0
"""Seconds any single wait in these tests may take before it counts as a hang."""
ENGINE_ARGV = [sys.executable, "-m", "wayfare", "engine"]
"""As ``bootstrap.build`` starts it; the settings follow on stdin as the first line."""
WAITING = "waiting for the previous journey engine to stop"
JOURNEY = {
    "name": "welcome",
    "entry": {"event": "signup", "next": "done"},
    "activities": {"done": {"type": "end"}},
}

T = TypeVar("T")


def engine_settings(tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    path = database_path(data_dir)
    migrate(path)
    store = SQLiteJourneyStore(path, fsync=False)
    store.add_journey_version(
        JourneyVersion(ORG, "welcome", 1, "draft", "signup", JOURNEY, True, 0, 0)
    )
    store.add_test_profile(ORG, "ada")
    store.close()
    return load_settings({"data_dir": data_dir}, environ={})


@contextlib.contextmanager
def journey_store(settings: Settings) -> Iterator[SQLiteJourneyStore]:
    store = SQLiteJourneyStore(database_path(settings.data_dir), fsync=False)
    try:
        yield store
    finally:
        store.close()


def queue_entry(settings: Settings) -> int:
    """A test profile's entry into the draft, for whichever engine runs."""
    with journey_store(settings) as store:
        return store.add_test_entry(TestEntry(ORG, "welcome", 1, "ada", 0, {}))


def taken(settings: Settings, entry_id: int) -> bool:
    with journey_store(settings) as store:
        return store.test_entry_done(entry_id)


def child_of(engine: EngineProcess) -> asyncio.subprocess.Process:
    # EngineProcess does not expose its child; these tests read the private attribute to
    # see which process it talks to and that it has exited.
    proc = engine._proc
    assert proc is not None, "the engine has no child process"
    return proc


async def within(awaitable: Awaitable[T]) -> T:
    """``awaitable``, failing the test instead of hanging."""
    return await asyncio.wait_for(awaitable, DEADLINE)


async def eventually(predicate: Callable[[], T]) -> T:
    """Poll ``predicate`` on the running loop until it returns something truthy."""
    deadline = time.monotonic() + DEADLINE
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {DEADLINE}s")
        await asyncio.sleep(0.02)
    return result


def wait_for(predicate: Callable[[], Any], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


# the real `wayfare engine`


def test_the_real_engine_takes_work_from_the_store_and_exits_when_its_stdin_closes(
    tmp_path: Path,
) -> None:
    settings = engine_settings(tmp_path)

    async def scenario() -> tuple[int, int | None]:
        engine = EngineProcess(ENGINE_ARGV, dump_settings(settings).encode())
        await within(engine.start())
        try:
            proc = child_of(engine)
            entry = queue_entry(settings)
            engine.wake()
            await eventually(lambda: taken(settings, entry))
        finally:
            await within(engine.stop())
        return proc.pid, proc.returncode

    pid, returncode = asyncio.run(scenario())

    assert returncode == 0
    assert not alive(pid)
    assert (settings.data_dir / "engine.lock").exists()
    with journey_store(settings) as store:
        (inst,) = store.journey_instances(ORG, "welcome", live_only=False)
        assert (inst.identity, inst.status) == ("ada", "finished")


# EngineProcess over a fake child

FAKE_CHILD = textwrap.dedent(
    """
    # A stand-in for `wayfare engine`: records its pid and every line it reads; a line
    # "die" makes it exit with 3.
    import json, os, sys

    pids, lines = sys.argv[1], sys.argv[2]
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\\n")
    while line := sys.stdin.buffer.readline():
        with open(lines, "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "line": line.decode()}) + "\\n")
        if os.path.exists(pids + ".die"):
            os.remove(pids + ".die")
            os._exit(3)
    """
)
GREETING = b'{"settings": "of the fake"}'


@dataclass
class Fake:
    """Where a fake child leaves what it did."""

    root: Path
    script: Path = field(init=False)
    pids_file: Path = field(init=False)
    lines_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.script = self.root / "fake_engine.py"
        self.script.write_text(FAKE_CHILD)
        self.pids_file = self.root / "pids"
        self.lines_file = self.root / "lines"

    @property
    def argv(self) -> list[str]:
        return [sys.executable, str(self.script), str(self.pids_file), str(self.lines_file)]

    def pids(self) -> list[int]:
        if not self.pids_file.exists():
            return []
        return [int(p) for p in self.pids_file.read_text().split()]

    def lines(self) -> list[tuple[int, str]]:
        """(pid, line) for every line a fake child read, in order."""
        if not self.lines_file.exists():
            return []
        entries = [json.loads(e) for e in self.lines_file.read_text().splitlines()]
        return [(e["pid"], e["line"]) for e in entries]

    def die_on_next_line(self) -> None:
        self.pids_file.with_name("pids.die").touch()


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    return Fake(tmp_path)


def test_each_child_reads_the_greeting_first_then_a_line_per_wake(fake: Fake) -> None:
    async def scenario() -> list[tuple[int, str]]:
        engine = EngineProcess(fake.argv, GREETING + b"\n")
        await within(engine.start())
        try:
            pid = child_of(engine).pid
            waker = threading.Thread(target=engine.wake)  # from another thread
            waker.start()
            waker.join(DEADLINE)
            await eventually(lambda: (pid, "\n") in fake.lines())
        finally:
            await within(engine.stop())
        return fake.lines()

    lines = asyncio.run(scenario())

    # one newline after the greeting, though it was given with its own
    assert [line for _, line in lines] == [GREETING.decode() + "\n", "\n"]


def test_wakes_that_arrive_together_reach_the_child_as_few_lines(fake: Fake) -> None:
    async def scenario() -> list[str]:
        engine = EngineProcess(fake.argv)
        await within(engine.start())
        try:
            pid = child_of(engine).pid
            wakers = [threading.Thread(target=engine.wake) for _ in range(20)]
            for waker in wakers:
                waker.start()
            for waker in wakers:
                waker.join(DEADLINE)
            await eventually(lambda: (pid, "\n") in fake.lines())
            await asyncio.sleep(0.1)  # lets any further line through before counting
        finally:
            await within(engine.stop())
        return [line for _, line in fake.lines()]

    lines = asyncio.run(scenario())

    # the threads raced the loop, so more than one line may be sent, but never one per wake
    assert 1 <= lines.count("\n") < 20


def test_a_child_that_exits_is_replaced_by_a_new_one_that_gets_the_greeting(fake: Fake) -> None:
    async def scenario() -> tuple[int | None, list[int], list[tuple[int, str]]]:
        engine = EngineProcess(fake.argv, GREETING)
        await within(engine.start())
        try:
            first = child_of(engine)
            fake.die_on_next_line()
            engine.wake()
            await within(first.wait())
            await eventually(lambda: len(fake.pids()) == 2)
            second = await eventually(lambda: child_of(engine) is not first and child_of(engine))
            engine.wake()
            await eventually(lambda: (second.pid, "\n") in fake.lines())
        finally:
            await within(engine.stop())
        return first.returncode, fake.pids(), fake.lines()

    first_returncode, (first_pid, second_pid), lines = asyncio.run(scenario())

    assert first_returncode == 3
    assert first_pid != second_pid
    assert [line for pid, line in lines if pid == second_pid] == [GREETING.decode() + "\n", "\n"]
    assert not alive(first_pid)
    assert not alive(second_pid)


def test_stop_ends_the_child_and_a_wake_after_it_does_nothing(fake: Fake) -> None:
    async def scenario() -> tuple[int, int | None]:
        engine = EngineProcess(fake.argv)
        await within(engine.start())
        proc = child_of(engine)
        await within(engine.stop())
        engine.wake()  # after stop: nobody to wake, and no error
        return proc.pid, proc.returncode

    pid, returncode = asyncio.run(scenario())

    assert returncode == 0
    assert not alive(pid)


def test_a_child_that_cannot_be_started_fails_start(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = EngineProcess([str(tmp_path / "no-such-program")])
        await within(engine.start())

    with pytest.raises(OSError):
        asyncio.run(scenario())


# two real engines on one data directory


@dataclass
class Child:
    """A `wayfare engine` started by hand, its stderr read by a thread line by line."""

    process: subprocess.Popen[bytes]
    stderr: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        assert self.process.stderr is not None
        self._reader = threading.Thread(
            target=self._read_stderr, args=(self.process.stderr,), daemon=True
        )
        self._reader.start()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.stderr.append(line.decode(errors="replace"))

    def wake(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"\n")
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.stderr))

    def finish(self) -> None:
        """However the test went: no process left behind (the engine's courier included),
        no pipe left open."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the courier, if it outlived it
        if self._reader is not None:
            self._reader.join(DEADLINE)
        for stream in (self.process.stdin, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()


@contextlib.contextmanager
def engines(settings: Settings) -> Iterator[Callable[[], Child]]:
    """Start real `wayfare engine` children on ``settings``; every one is gone afterwards."""
    started: list[Child] = []

    def start() -> Child:
        process = subprocess.Popen(
            ENGINE_ARGV,
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own group: finish() takes its courier too
        )
        child = Child(process)
        started.append(child)
        assert process.stdin is not None
        process.stdin.write(dump_settings(settings).encode() + b"\n")
        process.stdin.flush()
        return child

    try:
        yield start
    finally:
        for child in started:
            child.finish()


def test_a_second_engine_waits_for_the_first_to_stop_and_then_takes_over(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    with engines(settings) as start:
        first = start()
        entry = queue_entry(settings)
        first.wake()
        wait_for(lambda: taken(settings, entry))  # it runs, so it holds the lock

        second = start()
        wait_for(lambda: second.said(WAITING))
        first.process.send_signal(signal.SIGSTOP)  # only the second could take the next one
        try:
            entry = queue_entry(settings)
            second.wake()
            time.sleep(1.0)
            assert not taken(settings, entry), "the second engine acted without the lock"
        finally:
            first.process.send_signal(signal.SIGCONT)
        first.close_stdin()
        assert first.process.wait(DEADLINE) == 0
        second.wake()
        wait_for(lambda: taken(settings, entry))
        second.close_stdin()
        assert second.process.wait(DEADLINE) == 0

    assert not first.said(WAITING)
    assert next(line for line in second.stderr if WAITING in line).rstrip().endswith(WAITING)
    assert sum(WAITING in line for line in second.stderr) == 1  # said once, not every poll


def test_an_engine_still_waiting_for_the_lock_exits_when_its_stdin_closes(
    tmp_path: Path,
) -> None:
    settings = engine_settings(tmp_path)
    with engines(settings) as start:
        first = start()
        entry = queue_entry(settings)
        first.wake()
        wait_for(lambda: taken(settings, entry))
        second = start()
        wait_for(lambda: second.said(WAITING))

        second.close_stdin()

        assert second.process.wait(DEADLINE) == 0
        # the first never noticed
        entry = queue_entry(settings)
        first.wake()
        wait_for(lambda: taken(settings, entry))
        first.close_stdin()
        assert first.process.wait(DEADLINE) == 0


def test_sigterm_stops_a_running_engine(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    with engines(settings) as start:
        child = start()
        entry = queue_entry(settings)
        child.wake()
        wait_for(lambda: taken(settings, entry))

        child.process.send_signal(signal.SIGTERM)

        assert child.process.wait(DEADLINE) == 0


# the engine in the server's own process


def test_a_server_told_to_keep_the_engine_runs_journeys_to_their_actions_itself(
    tmp_path: Path,
) -> None:
    with running_receiver() as receiver:
        srv = start_server(tmp_path, env={"WAYFARE_ENGINE_PROCESS": "false"})
        try:
            shop = setup_shop(apply_demo_to(srv, new_org()))
            hook = {
                "type": "http",
                "url": f"{receiver.url}/hello",
                "body": {"cart": hole("cart", "cart.id")},
                "next": "done",
            }
            entry = {"event": "cart", "next": "hook"}
            activities = {"hook": hook, "done": {"type": "end"}}
            publish(shop, {"name": "hello", "entry": entry, "activities": activities})
            send(shop, shop_message(shop, "cart", "ada@example.com", cart_id="c-7"))
            wait_for_report(shop, "hello", entered=1, exited=1)
            (call,) = receiver.under("/hello")
            assert call.body == {"cart": "c-7"}
            assert call.key == f"{instance_ids(shop, 'hello')['ada@example.com']}:hook"
            assert srv.children("engine") == []
            # the server itself started the courier its engine delivers through
            assert len(srv.children("wayfare.engine.courier")) == 1
        finally:
            srv.stop()
