"""The journey engine in a process of its own: ``EngineProcess`` driving the real ``wayfare
engine`` on a migrated data directory, ``EngineProcess`` over a small fake child that speaks
the same line protocol (for the error paths: error answers, a child that dies, a new child,
wakes, stop), two real engines on one data directory taking turns on ``engine.lock``, and a
server told to keep the engine in its own process (``WAYFARE_ENGINE_PROCESS=false``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
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
from wayfare.config import Settings, dump_settings, load_settings
from wayfare.engine.process import EngineProcess
from wayfare.errors import EngineError, OverloadedError
from wayfare.store.sqlite import database_path, migrate

pytestmark = pytest.mark.integration

ORG = "ACME@AdobeOrg"
DEADLINE = 10.0
"""Seconds any single wait in these tests may take before it counts as a hang."""
ENGINE_ARGV = [sys.executable, "-m", "wayfare", "engine"]
"""As ``bootstrap.build`` starts it; the settings follow on stdin as the first line."""
WAITING = "waiting for the previous journey engine to stop"

T = TypeVar("T")


def engine_settings(tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    migrate(database_path(data_dir))
    return load_settings({"data_dir": data_dir}, environ={})


def running(pid: int) -> bool:
    """Whether ``pid`` names a live process (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


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


# the real `wayfare engine`


def test_the_real_engine_answers_stop_instances_for_a_journey_without_instances_with_0(
    tmp_path: Path,
) -> None:
    settings = engine_settings(tmp_path)

    async def scenario() -> tuple[int, int, int, int | None]:
        engine = EngineProcess(ENGINE_ARGV, dump_settings(settings).encode())
        await within(engine.start())
        try:
            proc = child_of(engine)
            engine.wake()  # nothing to do: the engine takes it and carries on
            stopped = await within(engine.stop_instances(ORG, "welcome", "test"))
            again = await within(engine.stop_instances(ORG, "welcome", "test"))
        finally:
            await within(engine.stop())
        return stopped, again, proc.pid, proc.returncode

    stopped, again, pid, returncode = asyncio.run(scenario())

    assert (stopped, again) == (0, 0)
    assert returncode == 0
    assert not running(pid)
    assert (settings.data_dir / "engine.lock").exists()


# EngineProcess over a fake child

FAKE_CHILD = textwrap.dedent(
    """
    # A stand-in for `wayfare engine`: records its pid and every line it reads, and answers
    # stop_instances by journey name: "boom" with an error, "die" by exiting without an
    # answer, "slow" after 0.3 s, anything else with its own pid.
    import json, os, sys, time

    pids, lines = sys.argv[1], sys.argv[2]
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\\n")
    while line := sys.stdin.buffer.readline():
        with open(lines, "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "line": line.decode()}) + "\\n")
        try:
            n, command, args = json.loads(line)
        except ValueError:
            continue  # the greeting, a wake
        journey = args[1]
        if journey == "die":
            os._exit(3)
        if journey == "slow":
            time.sleep(0.3)
        if journey == "boom":
            answer = [n, None, "ValueError: boom"]
        else:
            answer = [n, os.getpid(), None]
        sys.stdout.write(json.dumps(answer) + "\\n")
        sys.stdout.flush()
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


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    return Fake(tmp_path)


async def ask_until_answered(engine: EngineProcess, journey: str) -> int:
    """stop_instances, retried while the engine says it is restarting (as callers are told
    to by ``retry_after``)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            return await within(engine.stop_instances(ORG, journey, "test"))
        except OverloadedError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def test_an_error_answer_raises_engine_error_with_the_childs_message_and_the_child_goes_on(
    fake: Fake,
) -> None:
    async def scenario() -> tuple[EngineError, int, list[int]]:
        engine = EngineProcess(fake.argv)
        await within(engine.start())
        try:
            with pytest.raises(EngineError) as failed:
                await within(engine.stop_instances(ORG, "boom", "test"))
            after = await within(engine.stop_instances(ORG, "welcome", "test"))
        finally:
            await within(engine.stop())
        return failed.value, after, fake.pids()

    error, after, pids = asyncio.run(scenario())

    assert error.message == "ValueError: boom"
    assert str(error) == "ValueError: boom"
    assert pids == [after]  # the same child answered the next command


def test_each_child_reads_the_greeting_first_then_the_commands(fake: Fake) -> None:
    async def scenario() -> list[tuple[int, str]]:
        engine = EngineProcess(fake.argv, GREETING + b"\n")
        await within(engine.start())
        try:
            await within(engine.stop_instances(ORG, "welcome", "test"))
        finally:
            await within(engine.stop())
        return fake.lines()

    (_, greeting), (_, command) = asyncio.run(scenario())

    assert greeting == GREETING.decode() + "\n"  # one newline, though given with its own
    assert json.loads(command)[1:] == ["stop_instances", [ORG, "welcome", "test"]]


def test_answers_reach_their_own_commands_when_they_come_back_out_of_order(
    fake: Fake,
) -> None:
    async def scenario() -> tuple[list[Any], list[int]]:
        engine = EngineProcess(fake.argv)
        await within(engine.start())
        try:
            answers = await within(
                asyncio.gather(
                    engine.stop_instances(ORG, "slow", "test"),
                    engine.stop_instances(ORG, "boom", "test"),
                    engine.stop_instances(ORG, "welcome", "test"),
                    return_exceptions=True,
                )
            )
        finally:
            await within(engine.stop())
        return list(answers), fake.pids()

    (slow, boom, welcome), (pid,) = asyncio.run(scenario())

    assert slow == pid
    assert isinstance(boom, EngineError) and boom.message == "ValueError: boom"
    assert welcome == pid


def test_a_child_that_exits_while_a_command_waits_fails_the_command_and_a_new_child_takes_over(
    fake: Fake,
) -> None:
    async def scenario() -> tuple[EngineError, int | None, list[int], int]:
        engine = EngineProcess(fake.argv, GREETING)
        await within(engine.start())
        try:
            first = child_of(engine)
            with pytest.raises(EngineError) as lost:
                await within(engine.stop_instances(ORG, "die", "test"))
            await within(first.wait())
            await eventually(lambda: len(fake.pids()) == 2)
            pids = fake.pids()
            answered_by = await ask_until_answered(engine, "welcome")
        finally:
            await within(engine.stop())
        return lost.value, first.returncode, pids, answered_by

    lost, first_returncode, (first_pid, second_pid), answered_by = asyncio.run(scenario())

    assert lost.message == "The journey engine exited before answering"
    assert first_returncode == 3
    assert first_pid != second_pid
    assert answered_by == second_pid
    assert not running(first_pid)
    assert not running(second_pid)


def test_commands_sent_while_the_child_is_gone_are_refused_as_overloaded(fake: Fake) -> None:
    async def scenario() -> OverloadedError:
        engine = EngineProcess(fake.argv)
        await within(engine.start())
        try:
            first = child_of(engine)
            with pytest.raises(EngineError):
                await within(engine.stop_instances(ORG, "die", "test"))
            await within(first.wait())
            # the next child starts RESTART_SECONDS later; until then nobody can answer
            with pytest.raises(OverloadedError) as refused:
                await within(engine.stop_instances(ORG, "welcome", "test"))
        finally:
            await within(engine.stop())
        return refused.value

    refused = asyncio.run(scenario())

    assert refused.retry_after == 1


def test_wake_from_another_thread_reaches_the_child_as_an_empty_line(fake: Fake) -> None:
    async def scenario() -> list[tuple[int, str]]:
        engine = EngineProcess(fake.argv, GREETING)
        await within(engine.start())
        try:
            pid = child_of(engine).pid
            waker = threading.Thread(target=engine.wake)
            waker.start()
            waker.join(DEADLINE)
            await eventually(lambda: (pid, "\n") in fake.lines())
            # and the pipe still carries commands after it
            assert await within(engine.stop_instances(ORG, "welcome", "test")) == pid
        finally:
            await within(engine.stop())
        return fake.lines()

    lines = asyncio.run(scenario())

    assert [line for _, line in lines][:2] == [GREETING.decode() + "\n", "\n"]


def test_wakes_that_arrive_together_reach_the_child_as_one_line(fake: Fake) -> None:
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
            # a command written after them is read after whatever wake lines they sent
            await within(engine.stop_instances(ORG, "welcome", "test"))
            await eventually(lambda: (pid, "\n") in fake.lines())
        finally:
            await within(engine.stop())
        return [line for _, line in fake.lines()]

    lines = asyncio.run(scenario())

    # the threads raced the loop, so more than one line may be sent, but never one per wake
    assert 1 <= lines.count("\n") < 20


def test_stop_ends_the_child_and_a_command_after_it_is_refused_as_overloaded(
    fake: Fake,
) -> None:
    async def scenario() -> tuple[OverloadedError, int, int | None]:
        engine = EngineProcess(fake.argv)
        await within(engine.start())
        proc = child_of(engine)
        await within(engine.stop_instances(ORG, "welcome", "test"))
        await within(engine.stop())
        engine.wake()  # after stop: nobody to wake, and no error
        with pytest.raises(OverloadedError) as refused:
            await within(engine.stop_instances(ORG, "welcome", "test"))
        return refused.value, proc.pid, proc.returncode

    refused, pid, returncode = asyncio.run(scenario())

    assert refused.retry_after == 1
    assert returncode == 0
    assert not running(pid)


def test_a_child_that_cannot_be_started_fails_start(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = EngineProcess([str(tmp_path / "no-such-program")])
        await within(engine.start())

    with pytest.raises(OSError):
        asyncio.run(scenario())


# two real engines on one data directory


@dataclass
class Child:
    """A `wayfare engine` started by hand: its stdout and stderr read by threads, line by
    line, with the moment each line arrived."""

    process: subprocess.Popen[bytes]
    answers: queue.Queue[tuple[float, list[Any]]] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        for target, stream in (
            (self._read_answers, self.process.stdout),
            (self._read_stderr, self.process.stderr),
        ):
            reader = threading.Thread(target=target, args=(stream,), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read_answers(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.answers.put((time.monotonic(), json.loads(line)))

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.stderr.append(line.decode(errors="replace"))

    def send(self, command: list[Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, timeout: float = DEADLINE) -> tuple[float, list[Any]]:
        return self.answers.get(timeout=timeout)

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
        for reader in self._readers:
            reader.join(DEADLINE)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
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
            stdout=subprocess.PIPE,
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


def wait_for(predicate: Callable[[], Any], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


STOP_NOTHING = ["stop_instances", [ORG, "welcome", "test"]]


def test_a_second_engine_waits_for_the_first_to_stop_and_then_proceeds(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    with engines(settings) as start:
        first = start()
        first.send([1, *STOP_NOTHING])
        assert first.answer()[1] == [1, 0, None]  # it runs, so it holds the lock

        second = start()
        wait_for(lambda: second.said(WAITING))
        second.send([1, *STOP_NOTHING])
        with pytest.raises(queue.Empty):
            second.answer(timeout=1.0)  # not while the first runs
        assert second.process.poll() is None

        closed_at = time.monotonic()
        first.close_stdin()
        assert first.process.wait(DEADLINE) == 0
        answered_at, answer = second.answer()
        assert answer == [1, 0, None]
        assert answered_at > closed_at

        second.send([2, *STOP_NOTHING])
        assert second.answer()[1] == [2, 0, None]
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
        first.send([1, *STOP_NOTHING])
        assert first.answer()[1] == [1, 0, None]
        second = start()
        wait_for(lambda: second.said(WAITING))

        second.close_stdin()

        assert second.process.wait(DEADLINE) == 0
        with pytest.raises(queue.Empty):
            second.answer(timeout=0.1)
        # the first never noticed
        first.send([2, *STOP_NOTHING])
        assert first.answer()[1] == [2, 0, None]
        first.close_stdin()
        assert first.process.wait(DEADLINE) == 0


def test_sigterm_stops_a_running_engine_and_an_unknown_command_gets_an_error_answer(
    tmp_path: Path,
) -> None:
    settings = engine_settings(tmp_path)
    with engines(settings) as start:
        child = start()
        child.send([1, "reticulate", []])
        child.send([2, *STOP_NOTHING])
        answers = {a[0]: a for _, a in (child.answer(), child.answer())}
        assert answers == {
            1: [1, None, "ValueError: unknown command 'reticulate'"],
            2: [2, 0, None],
        }

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
