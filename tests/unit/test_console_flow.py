"""Messages per minute on the console's home page, from samples of the inlet counters."""

from __future__ import annotations

from wayfare.console.flow import Counts, FlowRates


class Counters:
    def __init__(self) -> None:
        self.counts: Counts = {}
        self.now = 1000.0

    def add(self, inlet: str, outcome: str, messages: int) -> None:
        self.counts[(inlet, outcome)] = self.counts.get((inlet, outcome), 0.0) + messages


def test_the_rate_is_the_change_over_the_last_minute_and_unknown_before_two_samples() -> None:
    counters = Counters()
    rates = FlowRates(lambda: dict(counters.counts), lambda: counters.now)
    counters.add("a", "accepted", 10)
    first = rates.flows(["a", "b"])
    assert first["a"].per_minute["accepted"] is None
    assert first["a"].totals["accepted"] == 10

    counters.now += 30
    counters.add("a", "accepted", 15)
    counters.add("a", "failed", 3)
    second = rates.flows(["a", "b"])
    assert second["a"].per_minute == {"accepted": 30.0, "failed": 6.0, "rejected": 0.0}
    assert second["b"].per_minute == {"accepted": 0.0, "failed": 0.0, "rejected": 0.0}

    counters.now += 45  # the first sample is now older than a minute: the rate is since the second
    third = rates.flows(["a"])
    assert third["a"].per_minute["accepted"] == 0.0
    assert third["a"].totals == {"accepted": 25, "failed": 3, "rejected": 0}


def test_samples_too_close_together_give_no_rate() -> None:
    counters = Counters()
    rates = FlowRates(lambda: dict(counters.counts), lambda: counters.now)
    rates.flows(["a"])
    counters.now += 0.5
    counters.add("a", "accepted", 1)
    assert rates.flows(["a"])["a"].per_minute["accepted"] is None
