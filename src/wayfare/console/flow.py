"""Messages per minute per inlet, from the server's own counters (``/metrics``'
``wayfare_inlet_messages``, added up over every process): each look at the home page takes
a sample, and the rate is the change since the oldest sample of the last minute."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from wayfare.observability.metrics import exposition

OUTCOMES = ("accepted", "failed", "rejected")
WINDOW_SECONDS = 60.0
MIN_SPAN_SECONDS = 2.0
"""Samples closer than this give no rate yet."""
MAX_SAMPLES = 120

Counts = dict[tuple[str, str], float]
"""(inlet id, outcome) → messages since the server started."""


def inlet_counts() -> Counts:
    counts: Counts = {}
    for family in text_string_to_metric_families(exposition().decode()):
        if family.name != "wayfare_inlet_messages":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = (sample.labels.get("inlet", ""), sample.labels.get("outcome", ""))
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


@dataclass(frozen=True, slots=True)
class InletFlow:
    """One inlet's messages per minute by outcome (None: not measured yet) and its totals."""

    per_minute: dict[str, float | None]
    totals: dict[str, int]


class FlowRates:
    """Samples of the counters over the last minute (bounded), and the rates they give.
    Pages are made on worker threads, several at once (the home page and its refreshes):
    the samples are taken and read under a lock."""

    def __init__(self, read: Callable[[], Counts], now: Callable[[], float]) -> None:
        self._read = read
        self._now = now
        self._samples: deque[tuple[float, Counts]] = deque(maxlen=MAX_SAMPLES)
        self._lock = threading.Lock()

    def flows(self, inlet_ids: list[str]) -> dict[str, InletFlow]:
        counts = self._read()
        with self._lock:
            now = self._now()
            while self._samples and self._samples[0][0] < now - WINDOW_SECONDS:
                self._samples.popleft()
            then = self._samples[0] if self._samples else None
            self._samples.append((now, counts))
        span = now - then[0] if then else 0.0
        flows = {}
        for inlet in inlet_ids:
            per_minute: dict[str, float | None] = {}
            for outcome in OUTCOMES:
                current = counts.get((inlet, outcome), 0.0)
                if then is None or span < MIN_SPAN_SECONDS:
                    per_minute[outcome] = None
                else:
                    before = then[1].get((inlet, outcome), 0.0)
                    per_minute[outcome] = max(current - before, 0.0) * 60.0 / span
            totals = {o: int(counts.get((inlet, o), 0.0)) for o in OUTCOMES}
            flows[inlet] = InletFlow(per_minute, totals)
        return flows
