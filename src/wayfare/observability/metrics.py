"""The Prometheus metrics of a Wayfare process, and their exposition for ``/metrics``.

Every process of a server (the one ``serve`` starts, its HTTP processes, the journey
engine) counts into its own files when ``PROMETHEUS_MULTIPROC_DIR`` is set
(``shared_dir.py``), and ``/metrics`` adds every process up; otherwise (a test's app, a
lone process) the values stay in memory. Counters move once a request or a batch, never
once a message. Gauges set by one process at a time (the writer, the engine) report the
value set last (``mostrecent``), so an engine started again replaces the one that died.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

from wayfare.observability.shared_dir import VARIABLE

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_HOSTS = 100
"""Distinct hosts deliveries are counted by; beyond them, ``other``."""
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One process's metrics; ``process_metrics()`` makes them on first use."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.inlet_messages = Counter(
            "wayfare_inlet_messages",
            "Messages per inlet by outcome: accepted (stored in the dataset), failed (stored "
            "as failed records: schema violations), rejected (answered 4xx, not stored), "
            "unavailable (answered 503, not stored).",
            ["inlet", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "wayfare_http_request_duration_seconds",
            "HTTP requests by route and status, from the first byte read to the last sent.",
            ["route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.writer_queue = Gauge(
            "wayfare_writer_queue_depth",
            "Writes waiting for the group-commit writer when it took its last group.",
            ["writer"],
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.commit_seconds = Histogram(
            "wayfare_writer_commit_seconds",
            "Time a group-commit writer took to write and commit one group.",
            ["writer"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.engine_lag = Gauge(
            "wayfare_engine_lag_events",
            "Accepted messages of its partitions the journey engine has not consumed yet.",
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.cycle_seconds = Histogram(
            "wayfare_engine_cycle_seconds",
            "Time one engine cycle took: read the log, act, commit.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.timers_due = Gauge(
            "wayfare_engine_timers_due",
            "Due timers the engine found in its last cycle that fired any (at most 500 a "
            "cycle; 500 means more are waiting).",
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.outbox_depth = Gauge(
            "wayfare_engine_outbox_depth",
            "Outbox items the engine holds: waiting, in flight, or awaiting their outcome's "
            "commit.",
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.deliveries = Counter(
            "wayfare_deliveries",
            "Action delivery attempts by outcome (ok, failed, retryable, not_sent) and host "
            f"(the first {MAX_HOSTS} seen, then other).",
            ["outcome", "host"],
            registry=r,
        )
        self._hosts: set[str] = set()
        self._inlet_children: dict[tuple[str, str], Counter] = {}
        self._request_children: dict[tuple[str, int], Histogram] = {}

    # ``labels()`` takes a lock and builds a key each call: the hot path keeps the children
    def count_messages(self, inlet_id: str, outcome: str, messages: int) -> None:
        key = (inlet_id, outcome)
        child = self._inlet_children.get(key)
        if child is None:
            child = self._inlet_children[key] = self.inlet_messages.labels(inlet_id, outcome)
        child.inc(messages)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        key = (route, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.request_seconds.labels(route, str(status))
        child.observe(seconds)

    def host_label(self, host: str) -> str:
        """``host``, or ``other`` once ``MAX_HOSTS`` others are counted."""
        if host in self._hosts:
            return host
        if len(self._hosts) >= MAX_HOSTS:
            return "other"
        self._hosts.add(host)
        return host


@functools.cache
def process_metrics() -> Metrics:
    """This process's metrics, made on first use (never at import)."""
    return Metrics()


def exposition() -> bytes:
    """Every metric in Prometheus' text format: all processes of the server when they
    share a directory, this process's otherwise."""
    directory = os.environ.get(VARIABLE)  # prometheus-client's own switch
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(process_metrics().registry)


def serve_metrics(host: str, port: int) -> Callable[[], None]:
    """Answer ``GET /metrics`` with this process's metrics on ``host:port``, from a thread
    (``wayfare worker``, which has no HTTP server of its own); returns what stops it."""
    server, _ = start_http_server(port, addr=host, registry=process_metrics().registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
