"""Which messages of one write are retries of a msgId seen before, for the log's writers.

A msgId counts once per org. Within one ``write`` the first message with a msgId is the one
appended and later ones are its duplicates (conflicts when their message differs); a msgId
the ``known`` lookup has (the store's message ids, beyond what the log itself remembers) is
answered without appending anything.
What the log itself remembers (JetStream's duplicate window, the memory log's map) is the
writer's own business.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from wayfare.model.records import FirstMessage, IncomingMessage, WriteOutcome, repeat_of

KnownMessageIds = Callable[[str, Sequence[str]], Awaitable[Mapping[str, FirstMessage]]]
"""``known(org_id, msg_ids)``: the first message of each of these msgIds already stored."""


@dataclass(frozen=True, slots=True)
class WritePlan:
    fresh: list[int]
    """Indexes of the messages to append, in order."""
    answers: list[WriteOutcome | int | None]
    """Per message: its outcome when already known, the index of the earlier message of the
    same write it repeats, or None when it is fresh."""

    def outcomes(
        self, messages: Sequence[IncomingMessage], appended: Sequence[WriteOutcome]
    ) -> list[WriteOutcome]:
        """Every message's outcome, given the outcomes of the fresh ones in order."""
        result: list[WriteOutcome] = []
        fresh = iter(appended)
        for message, answer in zip(messages, self.answers, strict=True):
            if answer is None:
                result.append(next(fresh))
            elif isinstance(answer, int):
                # compared with the write's first message of the msgId (the log does not
                # tell the stored one's digest): the same message gets the same answer; one
                # that differs from a first that was itself a conflict is one too, even if
                # it happens to be what was stored (a rare write: the sender may retry it)
                first = result[answer]
                outcome = repeat_of(
                    FirstMessage(first.xaction_id, messages[answer].digest), message
                )
                result.append(first if first.duplicate and not outcome.conflict else outcome)
            else:
                result.append(answer)
        return result


async def plan_write(
    messages: Sequence[IncomingMessage], known: KnownMessageIds | None
) -> WritePlan:
    first: dict[tuple[str, str], int] = {}
    answers: list[WriteOutcome | int | None] = []
    for i, message in enumerate(messages):
        key = (message.org_id, message.msg_id) if message.msg_id is not None else None
        if key is not None and key in first:
            answers.append(first[key])
        else:
            answers.append(None)
            if key is not None:
                first[key] = i
    if known is not None and first:
        by_org: dict[str, list[str]] = {}
        for org_id, msg_id in first:
            by_org.setdefault(org_id, []).append(msg_id)
        for org_id, msg_ids in by_org.items():
            stored = await known(org_id, msg_ids)
            for msg_id in msg_ids:
                if msg_id in stored:
                    index = first[org_id, msg_id]
                    answers[index] = repeat_of(stored[msg_id], messages[index])
    return WritePlan([i for i, a in enumerate(answers) if a is None], answers)
