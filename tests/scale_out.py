"""Scale-out deployments for end-to-end tests: `wayfare serve` and `wayfare worker` processes
sharing one PostgreSQL and one NATS, a steady stream of messages whose acknowledgements are
kept, and what a user checks once the stream has drained: every acknowledged message stored
once, every instance finished, every action arrived by its ``Idempotency-Key``, every wait
ended once.

Workers run with short leases (``LEASE_SECONDS``), so partitions move within seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from tests.conftest import RECEIVERS_ALLOWED, Server, wait_until
from tests.integration.conftest import apply_demo_to, new_org
from tests.integration.journey_support import (
    Call,
    Receiver,
    Shop,
    publish,
    setup_shop,
    shop_message,
    steps,
    wait_and_call,
    wait_for_report,
)
from tests.nats_support import delete_stream, unique_prefix
from tests.netns import SUBNETS
from tests.processes import live_processes

PARTITIONS = 8
LEASE_SECONDS = 2.0
PAUSE = "2s"
"""How long each instance waits before its action."""
JOURNEY = "reminder"
STOP_SECONDS = 60
"""How long a worker may take to stop: deliveries in flight get 5 s, then its courier up
to 35 s to end the attempts it holds (engine/courier.py); longer is a worker that hangs."""


@dataclass
class Worker:
    """A ``wayfare worker`` child process, in a process group of its own with its action
    courier. ``kill()`` is kill -9 of the worker alone (its courier sees its stdin close);
    ``pause()`` and ``resume()`` stop and continue the whole group, as a paused host would."""

    name: str
    log_path: Path
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    wrapper: list[str] = field(default_factory=list)
    """What the command runs under, such as ``ip netns exec <namespace>``."""
    process: subprocess.Popen[bytes] | None = None
    _log_from: int = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Worker:
        return self.launch().wait_running()

    def launch(self) -> Worker:
        """Start the process; ``wait_running`` waits until its engine runs."""
        self._log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.wrapper, sys.executable, "-m", "wayfare", "worker", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **RECEIVERS_ALLOWED, **self.env},
                start_new_session=True,
            )
        return self

    def wait_running(self) -> Worker:
        wait_until(self._running, timeout=30)
        return self

    def _running(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited with {self.process.returncode}: {self.tail()}")
        with self.log_path.open("rb") as log:
            log.seek(self._log_from)
            return b"journey engine running" in log.read()

    def tail(self, size: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-size:]

    def holds(self, owner: str) -> bool:
        """Whether a lease's owner (``host:pid:random``) is this worker."""
        return owner.split(":")[1] == str(self.pid)

    def group(self) -> list[int]:
        """The processes left in the worker's process group (it, its courier)."""
        return processes_in_groups({self.pid}).get(self.pid, [])

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def pause(self) -> None:
        os.killpg(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM, and wait for the worker to end; one still running after STOP_SECONDS is
        killed (its whole group), and that fails the test: a worker must stop when told."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGCONT)  # a paused one cannot stop
        hung = False
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                hung = True
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(ProcessLookupError):  # a courier left behind by kill()
            os.killpg(self.pid, signal.SIGKILL)
        if hung:
            raise AssertionError(
                f"{self.name} did not stop within {STOP_SECONDS} s of SIGTERM: {self.tail()}"
            )


def processes_in_groups(groups: set[int]) -> dict[int, list[int]]:
    """Process group -> its live processes, for the groups asked about."""
    found: dict[int, list[int]] = defaultdict(list)
    for pid, fields in live_processes():
        if int(fields[2]) in groups:
            found[int(fields[2])].append(pid)
    return found


def _proc_address(address: tuple[str, int]) -> str:
    """An IPv4 address and port as /proc/net/tcp writes them."""
    host = socket.inet_aton(address[0])[::-1].hex().upper()
    return f"{host}:{address[1]:04X}"


def socket_holders(peer: tuple[str, int], local: tuple[str, int], pids: list[int]) -> list[int]:
    """Which of ``pids`` hold the end of a TCP connection to ``local`` from ``peer``."""
    ends = (_proc_address(peer), _proc_address(local))
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        columns = line.split()
        if (columns[1], columns[2]) == ends:
            inode = columns[9]
            break
    if inode is None:
        return []
    target = f"socket:[{inode}]"
    holders = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        holders.append(pid)
                        break
    return holders


@dataclass
class Cluster:
    """Servers and workers of one deployment: a PostgreSQL store, a NATS event log, a stream
    prefix of its own, 8 partitions and 2-second leases."""

    root: Path
    store: str
    event_log: str
    env: dict[str, str] = field(
        default_factory=lambda: {
            "WAYFARE_LOG_PREFIX": unique_prefix(),
            "WAYFARE_LOG_PARTITIONS": str(PARTITIONS),
            "WAYFARE_LEASE_SECONDS": str(LEASE_SECONDS),
            # receivers on 127.0.0.1, and on the action links of network namespaces
            "WAYFARE_ACTION_ALLOW": f"127.0.0.1,{SUBNETS}",
        }
    )
    servers: list[Server] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)

    def serve(self) -> Server:
        """A server, started (``wait_healthy`` waits until it answers)."""
        server = Server(
            self.root / f"serve-{len(self.servers)}",
            extra_args=["--store", self.store, "--log", self.event_log],
            env=self.env,
        )
        self.servers.append(server)
        return server.launch()

    def worker(
        self,
        name: str,
        *,
        wrapper: list[str] | None = None,
        store: str | None = None,
        event_log: str | None = None,
    ) -> Worker:
        """A worker, started (``wait_running`` waits until its engine runs)."""
        worker = Worker(
            name,
            self.root / f"worker-{name}.log",
            ["--store", store or self.store, "--log", event_log or self.event_log],
            self.env,
            wrapper or [],
        )
        self.workers.append(worker)
        return worker.launch()

    def wait_started(self) -> None:
        """Every server answers, every worker runs, and the workers share the partitions."""
        for server in self.servers:
            server.wait_healthy()
        for worker in self.workers:
            worker.wait_running()
        self.wait_until_held(*self.workers)

    def stream(self, shop: Shop, persons: list[str], rate: float) -> Stream:
        """A stream of messages to every server, started; stopped with the cluster."""
        stream = Stream(shop, self.servers, persons, rate)
        self.streams.append(stream)
        return stream.start()

    def stop(self) -> None:
        """Stop every process, then delete the deployment's stream (on a NATS server a
        test has stopped, there is nothing left to delete). A worker that had to be killed
        fails the test once everything has stopped."""
        hung: list[AssertionError] = []
        for process in [*self.streams, *self.workers, *self.servers]:
            try:
                process.stop()
            except AssertionError as exc:
                hung.append(exc)
        with contextlib.suppress(Exception):
            delete_stream(self.event_log, self.env["WAYFARE_LOG_PREFIX"])
        if hung:
            raise hung[0]

    def holders(self) -> dict[int, str] | None:
        """Partition -> the worker holding a live lease on it; None while the store does not
        answer."""
        return lease_holders(self.store)

    def wait_until_held(self, *workers: Worker, timeout: float = 30) -> dict[int, str]:
        """Every partition held, each by one of ``workers``, and each of them holding some."""

        def shared() -> dict[int, str] | None:
            held = self.holders()
            if held is None or len(held) < PARTITIONS:
                return None
            owners = [next((w for w in workers if w.holds(o)), None) for o in held.values()]
            if None in owners or {w.name for w in owners if w} != {w.name for w in workers}:
                return None
            return held

        try:
            found: dict[int, str] = wait_until(shared, timeout=timeout, interval=0.1)
        except AssertionError:
            raise AssertionError(
                f"partitions never shared by {[w.name for w in workers]}: {self.holders()}"
            ) from None
        return found

    def caller(self, peer: tuple[str, int], local: tuple[str, int]) -> str | None:
        """The name of the worker whose process group holds a loopback connection (the
        worker or its courier), for ``Receiver.identify``."""
        groups = processes_in_groups({w.pid for w in self.workers if w.process is not None})
        for worker in self.workers:
            if worker.process is not None and socket_holders(
                peer, local, groups.get(worker.pid, [])
            ):
                return worker.name
        return None


def lease_holders(store: str) -> dict[int, str] | None:
    """Partition -> the worker holding a live lease on it, in the PostgreSQL store at
    ``store``; None while it does not answer."""
    try:
        with psycopg.connect(store, connect_timeout=2, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT partition, owner FROM partition_leases "
                "WHERE owner IS NOT NULL AND expires_at > clock_timestamp()"
            ).fetchall()
    except psycopg.Error:
        return None
    return {int(partition): str(owner) for partition, owner in rows}


@contextlib.contextmanager
def running_cluster(root: Path, store: str, event_log: str) -> Iterator[Cluster]:
    """Two servers and two workers (``w0``, ``w1``) sharing the partitions; stopped after."""
    cluster = Cluster(root, store, event_log)
    try:
        cluster.serve()
        cluster.serve()
        cluster.worker("w0")
        cluster.worker("w1")
        cluster.wait_started()
        yield cluster
    finally:
        cluster.stop()


def open_shop(cluster: Cluster, receiver: Receiver, prefix: str) -> Shop:
    """A new org with the shop applied, and the live journey: wait ``PAUSE``, then call the
    receiver under ``prefix``."""
    shop = setup_shop(apply_demo_to(cluster.servers[0], new_org()))
    publish(shop, wait_and_call(JOURNEY, f"{receiver.url}{prefix}/hook", pause=PAUSE))
    return shop


# the stream of messages


class Stream:
    """One cart message per person, paced at ``rate`` a second from a thread, to the servers
    in turn: alone to the inlet (200) and by twos to the batch endpoint (207), each with a
    msgId. What is not acknowledged (a 503 while NATS restarts, a timeout) is sent again
    with the same msgId, to the next server, until it is."""

    def __init__(self, shop: Shop, servers: list[Server], people: list[str], rate: float):
        self.shop = shop
        self.servers = servers
        self.people = people
        self.rate = rate
        self.acknowledged: dict[str, str] = {}
        """msgId -> the xactionId its acknowledgement named."""
        self.statuses: Counter[int | str] = Counter()
        """Every answer's status (or the error's name), retries included."""
        self.problems: list[str] = []
        """Answers a client should never get: anything but 200, 207 and 503 with
        Retry-After, and failed batch entries."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._turn = 0

    @staticmethod
    def msg_id(person: str) -> str:
        return f"m-{person}"

    def start(self) -> Stream:
        self._thread.start()
        return self

    def wait_for(self, acknowledged: int, timeout: float = 60) -> None:
        wait_until(lambda: len(self.acknowledged) >= acknowledged, timeout=timeout)

    def finish(self, timeout: float = 120) -> None:
        """Wait until everything was sent and acknowledged."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"stream unfinished: {len(self.acknowledged)} acked"
        assert len(self.acknowledged) == len(self.people), self.statuses
        assert not self.problems, self.problems[:10]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        started = time.monotonic()
        with httpx.Client(timeout=15) as client:
            i = units = 0
            while i < len(self.people) and not self._stop.is_set():
                unit = self.people[i : i + 1 + units % 2]  # one, then two, then one...
                self._stop.wait(max(0.0, started + i / self.rate - time.monotonic()))
                self._send(client, unit)
                i += len(unit)
                units += 1

    def _send(self, client: httpx.Client, people: list[str]) -> None:
        messages = [
            shop_message(
                self.shop, "cart", person, cart_id=f"cart-{person}", msg_id=self.msg_id(person)
            )
            for person in people
        ]
        inlet = self.shop.demo.inlet_id
        deadline = time.monotonic() + 90
        while not self._stop.is_set() and time.monotonic() < deadline:
            server = self.servers[self._turn % len(self.servers)]
            self._turn += 1
            try:
                if len(messages) == 1:
                    answer = client.post(f"{server.url}/collection/{inlet}", json=messages[0])
                else:
                    answer = client.post(
                        f"{server.url}/collection/batch/{inlet}", json={"messages": messages}
                    )
            except httpx.HTTPError as exc:
                self.statuses[type(exc).__name__] += 1
                self._stop.wait(0.2)
                continue
            self.statuses[answer.status_code] += 1
            if answer.status_code == 200 and len(messages) == 1:
                self.acknowledged[self.msg_id(people[0])] = answer.json()["xactionId"]
                return
            if answer.status_code == 207 and len(messages) > 1:
                for person, entry in zip(people, answer.json()["responses"], strict=True):
                    if "status" in entry:
                        self.problems.append(f"batch entry failed: {entry}")
                    xaction_id = entry.get("duplicateOf", entry["xactionId"])
                    self.acknowledged[self.msg_id(person)] = xaction_id
                return
            if answer.status_code != 503 or "retry-after" not in answer.headers:
                self.problems.append(f"{answer.status_code} from {server.url}: {answer.text}")
            self._stop.wait(0.2)
        self.problems.append(f"never acknowledged: {people}")


def delivered_by(receiver: Receiver, prefix: str, worker: str) -> bool:
    """Whether the receiver has had a call under ``prefix`` from ``worker``."""
    return any(c.sender == worker for c in receiver.under(prefix))


def people(tag: str, count: int) -> list[str]:
    return [f"{tag}-{i}@example.com" for i in range(count)]


def new_tag() -> str:
    return uuid.uuid4().hex[:8]


# what a user checks once the stream has drained


def assert_stored_once(shop: Shop, stream: Stream) -> None:
    """Every acknowledged message is a record of the shop's dataset once, under the xactionId
    its acknowledgement named; nothing else was stored."""
    with shop.admin() as admin:
        datasets = admin.get("/api/v1/datasets", params={"schema": "shop"}).json()["datasets"]
        (dataset,) = [d for d in datasets if d["default"]]
        answer = admin.get(f"/api/v1/datasets/{dataset['id']}/records", params={"limit": 10_000})
    assert answer.status_code == 200, answer.text
    records = answer.json()["records"]
    by_xaction = Counter(r["xactionId"] for r in records)
    twice = {x: n for x, n in by_xaction.items() if n > 1}
    assert not twice, f"stored more than once: {twice}"
    acknowledged = set(stream.acknowledged.values())
    stored = set(by_xaction)
    assert stored == acknowledged, (
        f"acknowledged, not stored: {sorted(acknowledged - stored)[:10]}; "
        f"stored, never acknowledged: {sorted(stored - acknowledged)[:10]}"
    )
    assert {r["msgId"]: r["xactionId"] for r in records} == stream.acknowledged


def assert_journeys_finished(shop: Shop, persons: list[str], timeout: float = 90) -> dict[str, str]:
    """Each person entered once and went through every activity once: the wait ended once
    (its timer fired once), the action was recorded once, the end reached once. Returns
    instance id -> person."""
    n = len(persons)
    wait_for_report(shop, JOURNEY, timeout=timeout, entered=n, exited=n, inJourney=0, inError=0)
    found = steps(shop, JOURNEY)
    entries = {s["instanceId"]: s["identity"] for s in found if s["node"] == "entry"}
    assert sorted(entries.values()) == sorted(persons), "someone entered twice, or never"
    by_instance: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
    for s in found:
        by_instance[s["instanceId"]].append((s["node"], s["status"]))
    odd = {
        entries.get(i, i): path
        for i, path in by_instance.items()
        if Counter(node for node, _ in path) != Counter(["entry", "pause", "hook", "done"])
        or ("pause", "ended") not in path
    }
    assert not odd, f"instances that did not go through each activity once: {odd}"
    return entries


def assert_actions_arrived(
    receiver: Receiver, prefix: str, instances: dict[str, str]
) -> dict[str, list[Call]]:
    """The receiver got each instance's action under its key with the person's body, and
    nothing else. Returns key -> its calls, in arrival order."""
    calls: defaultdict[str, list[Call]] = defaultdict(list)
    for call in receiver.under(prefix):
        calls[str(call.key)].append(call)
    expected = {f"{instance}:hook": person for instance, person in instances.items()}
    assert set(calls) == set(expected), (
        f"missing {sorted(set(expected) - set(calls))[:10]}, "
        f"unexpected {sorted(set(calls) - set(expected))[:10]}"
    )
    for key, person in expected.items():
        assert {c.body["email"] for c in calls[key]} == {person}
    return calls


Repeats = Callable[[list[Call]], bool]
"""Whether the calls (in arrival order) of a key that arrived more than once are accepted."""


def assert_repeats(calls: dict[str, list[Call]], allowed: Repeats) -> None:
    """A key arrived more than once only where ``allowed`` accepts its calls."""
    refused = {k: found for k, found in calls.items() if len(found) > 1 and not allowed(found)}
    shown = {
        k: [(c.sender, c.peer, f"at {c.at:.2f}") for c in found] for k, found in refused.items()
    }
    assert not refused, f"actions delivered more than once: {shown}"


def assert_settled_in_store(cluster: Cluster, instances: dict[str, str]) -> None:
    """The store holds each action once, done, and no timer of these instances is left."""
    with psycopg.connect(cluster.store, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT instance_id, state FROM outbox WHERE instance_id = ANY(%s)", (list(instances),)
        ).fetchall()
        timers = conn.execute(
            "SELECT count(*) FROM timers WHERE instance_id = ANY(%s)", (list(instances),)
        ).fetchone()
    assert sorted(rows) == sorted((i, "done") for i in instances)
    assert timers == (0,)


def drained(
    cluster: Cluster,
    shop: Shop,
    stream: Stream,
    receiver: Receiver,
    prefix: str,
    repeats: Repeats = lambda calls: False,
) -> dict[str, list[Call]]:
    """Every invariant, once the stream is acknowledged and the journeys have finished; an
    action arriving more than once is checked last (``assert_repeats``)."""
    stream.finish()
    instances = assert_journeys_finished(shop, stream.people)
    assert_stored_once(shop, stream)
    calls = assert_actions_arrived(receiver, prefix, instances)
    assert_settled_in_store(cluster, instances)
    print(report_line(stream, calls))
    assert_repeats(calls, repeats)
    return calls


def report_line(stream: Stream, calls: dict[str, list[Call]]) -> str:
    repeats = sum(len(c) - 1 for c in calls.values())
    return f"answers {dict(stream.statuses)}; keys {len(calls)}, repeated deliveries {repeats}"


def first_from(name: str, before: float) -> Repeats:
    """A repeat is allowed when the first call came from worker ``name`` before ``before``
    (monotonic) and every later one from another worker: a delivery the faulty worker made
    but could not record, made again by the partition's next owner."""

    def allowed(calls: list[Call]) -> bool:
        first, *rest = calls
        return first.sender == name and first.at < before and all(c.sender != name for c in rest)

    return allowed
