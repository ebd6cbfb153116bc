"""The entry and re-entrance rules (model/admission.py)."""

from __future__ import annotations

import pytest

from wayfare.model.admission import (
    ALREADY_INSIDE,
    ENTER,
    IGNORE,
    MAX_CHAIN,
    MAX_JUMPS_PER_CYCLE,
    NOT_ALLOWED,
    TOO_MANY_CHANGES,
    TOO_MANY_JUMPS,
    TOO_SOON,
    Admission,
    Candidate,
    Stay,
    admit,
)

NOW = 1_000_000
WAIT = 300_000


def candidate(**changes: object) -> Candidate:
    values: dict[str, object] = {
        "reentrance": True,
        "reentry_wait_ms": WAIT,
        "test": False,
        "test_profile": False,
        "inside": False,
        "last": None,
        "jumped": False,
    }
    values.update(changes)
    return Candidate(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, ENTER, id="first time"),
        pytest.param({"inside": True}, Admission(False, ALREADY_INSIDE), id="inside, re-entrance"),
        pytest.param(
            {"inside": True, "reentrance": False},
            Admission(False, NOT_ALLOWED),
            id="inside, no re-entrance",
        ),
        pytest.param({"inside": True, "jumped": True}, IGNORE, id="inside, by a jump"),
        pytest.param(
            {"jumped": True, "jumps": MAX_JUMPS_PER_CYCLE},
            ENTER,
            id="the last jump a cycle allows",
        ),
        pytest.param(
            {"jumped": True, "jumps": MAX_JUMPS_PER_CYCLE + 1},
            Admission(False, TOO_MANY_JUMPS),
            id="one jump too many",
        ),
        pytest.param({"chain": MAX_CHAIN}, ENTER, id="the last audience change a chain allows"),
        pytest.param(
            {"chain": MAX_CHAIN + 1},
            Admission(False, TOO_MANY_CHANGES),
            id="one audience change by journeys too many",
        ),
        pytest.param(
            {"last": Stay(0, NOW - WAIT + 1)}, Admission(False, TOO_SOON), id="left just now"
        ),
        pytest.param({"last": Stay(0, NOW - WAIT)}, ENTER, id="left a wait ago"),
        pytest.param({"last": Stay(0, NOW - WAIT - 1)}, ENTER, id="left long ago"),
        pytest.param(
            {"last": Stay(0, NOW - 10 * WAIT), "reentrance": False},
            Admission(False, NOT_ALLOWED),
            id="been before, no re-entrance",
        ),
        pytest.param({"test": True}, IGNORE, id="test mode, not a test profile"),
        pytest.param(
            {"test": True, "test_profile": True, "last": Stay(0, NOW), "reentrance": False},
            ENTER,
            id="test profile, again and again",
        ),
        pytest.param(
            {"test": True, "test_profile": True, "inside": True},
            Admission(False, ALREADY_INSIDE),
            id="test profile inside",
        ),
        pytest.param(
            {"last": Stay(0, NOW - 10 * WAIT), "person_stays": (Stay(0, NOW - WAIT + 1),)},
            Admission(False, TOO_SOON),
            id="left long ago, the person just now under another identity",
        ),
        pytest.param(
            {"person_stays": (Stay(0, NOW - WAIT), Stay(0, NOW - 2 * WAIT))},
            ENTER,
            id="the person left a wait ago under two other identities",
        ),
    ],
)
def test_admission(changes: dict[str, object], expected: Admission) -> None:
    assert admit(candidate(**changes), NOW) == expected


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"inside": True}, id="inside"),
        pytest.param({"inside": True, "reentrance": False}, id="inside, no re-entrance"),
        pytest.param({"inside": True, "jumped": True}, id="inside, by a jump"),
        pytest.param({"last": Stay(0, NOW - WAIT + 1)}, id="left just now"),
        pytest.param({"last": Stay(0, NOW - WAIT)}, id="left a wait ago"),
        pytest.param({"last": Stay(0, 0), "reentrance": False}, id="been before"),
        pytest.param({"test": True, "test_profile": True, "inside": True}, id="test profile"),
        pytest.param(
            {"test": True, "test_profile": True, "last": Stay(0, NOW), "reentrance": False},
            id="test profile, again",
        ),
    ],
)
def test_the_person_s_other_identities_count_as_its_own(changes: dict[str, object]) -> None:
    """What another identity of the person holds (persons merged) is decided as the
    identity's own would be."""
    own = candidate(**changes)
    others = dict(changes)
    last = others.pop("last", None)
    others["person_inside"] = others.pop("inside", False)
    others["person_stays"] = () if last is None else (last,)
    person = candidate(**others)
    assert admit(person, NOW) == admit(own, NOW)
