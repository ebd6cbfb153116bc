"""A child process kept running: started again when it dies, stopped in order by closing its
stdin. The journey engine, the action courier's host and the HTTP processes of ``serve
--workers N`` are such children.

Each start may hand the child file descriptors (a listening socket, its end of a socket
pair) and a first line on stdin, its greeting: settings are kept off the command line, which
every user of the machine can read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wayfare.tasks import cancel_and_wait

log = logging.getLogger(__name__)
RESTART_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Start:
    """What one start of a child gets: ``pass_fds`` it inherits, the ``greeting`` line, and
    ``closers`` run once it has started (the parent's copies of what only the child needs)."""

    greeting: bytes = b""
    pass_fds: Sequence[int] = ()
    closers: Sequence[Callable[[], None]] = field(default_factory=tuple)


class ChildProcess:
    """A child started from ``argv``; ``prepare`` makes what each start gets (by default the
    same ``greeting`` every time)."""

    def __init__(
        self,
        argv: Sequence[str],
        greeting: bytes = b"",
        *,
        name: str = "child process",
        prepare: Callable[[], Start] | None = None,
    ) -> None:
        self._argv = list(argv)
        fixed = Start(greeting.rstrip(b"\n"))
        self._prepare = prepare or (lambda: fixed)
        self._name = name
        self._proc: asyncio.subprocess.Process | None = None
        self._supervising: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        spawned: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._supervising = asyncio.create_task(self._supervise(spawned))
        await spawned  # started, not necessarily ready

    async def stop(self, grace: float = 5.0) -> None:
        """Close the child's stdin (it stops in order, taking up to ``grace`` seconds for
        what is in flight) and wait for it; kill it if it does not end."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), grace + 60)
            except TimeoutError:
                log.error("the %s did not stop; killing it", self._name)
                proc.kill()
        await cancel_and_wait(self._supervising)

    def send_line(self, line: bytes = b"") -> None:
        """Write ``line`` and a newline to the running child's stdin (dropped while there is
        none)."""
        proc = self._proc
        if proc is not None and proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.write(line + b"\n")

    async def _supervise(self, spawned: asyncio.Future[None]) -> None:
        while not self._stopping:
            start = self._prepare()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self._argv, stdin=asyncio.subprocess.PIPE, pass_fds=start.pass_fds
                )
            except OSError as exc:
                if not spawned.done():
                    spawned.set_exception(exc)
                    return
                log.error("the %s could not start: %s", self._name, exc)
                await asyncio.sleep(RESTART_SECONDS)
                continue
            finally:
                for close in start.closers:
                    close()
            assert proc.stdin is not None
            if start.greeting:
                proc.stdin.write(start.greeting.rstrip(b"\n") + b"\n")
            self._proc = proc
            if not spawned.done():
                spawned.set_result(None)
            code = await proc.wait()
            if not self._stopping:
                log.warning("the %s exited with %s; starting a new one", self._name, code)
                await asyncio.sleep(RESTART_SECONDS)
