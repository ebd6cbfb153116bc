"""What a journey engine's cycle does with the outcomes of delivery attempts: a retryable
failure is due again after a backoff (ACTION_ATTEMPTS in all); any other outcome settles the
outbox item and is fed to its instance, if it still waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from wayfare.engine.actions import Delivery
from wayfare.engine.step import Step
from wayfare.model.instances import ActionDone, Instance, Trigger
from wayfare.model.runs import ActionRetry, ActionSettled, OutboxItem

ACTION_ATTEMPTS = 3
BACKOFF_MS = 500
"""The wait before the second attempt; each later one waits twice the one before."""


def settle(
    step: Step,
    results: Sequence[tuple[OutboxItem, Delivery]],
    now_ms: int,
    apply: Callable[[Step, Instance, Trigger], None],
) -> None:
    """Into ``step``: each outcome in ``results``, retried or settled; ``apply`` feeds an
    instance what its action came to."""
    step.outcomes = list(results)
    step.load(item.instance_id for item, _ in results)
    for item, delivery in results:
        attempts = item.attempts + 1
        if not delivery.ok and delivery.retryable and attempts < ACTION_ATTEMPTS:
            due = now_ms + BACKOFF_MS * 2 ** (attempts - 1)
            step.batch.retries.append(ActionRetry(item.outbox_id, attempts, due, delivery.error))
            step.retries.append(msgspec.structs.replace(item, attempts=attempts, next_ms=due))
            continue
        step.batch.settled.append(
            ActionSettled(item.outbox_id, delivery.ok, attempts, delivery.error)
        )
        step.finished.append(item.outbox_id)
        inst = step.instance(item.instance_id)
        if inst is not None and inst.live:
            done = ActionDone(
                item.node,
                item.token,
                delivery.ok,
                delivery.response,
                delivery.error,
                delivery.timed_out,
            )
            apply(step, inst, done)
