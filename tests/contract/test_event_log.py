"""The EventLog contract: accepted valid messages, read in seq order after a given seq."""

from __future__ import annotations

from tests.contract.conftest import OTHER_ORG, Backend, message, write
from wayfare.errors import Violation


def test_an_empty_log_has_nothing_to_read(backend: Backend) -> None:
    assert backend.event_log.last_seq() == 0
    assert backend.event_log.read(after_seq=0, limit=10) == []


def test_the_log_reads_valid_messages_of_every_dataset_in_seq_order(backend: Backend) -> None:
    write(backend, message("a", dataset_id="ds-1"), message("b", dataset_id="ds-2"))
    write(
        backend,
        message("broken", reasons=[Violation("#", "type", "not an object")]),
        message("c", dataset_id="ds-1", org_id=OTHER_ORG),
        message("d", dataset_id="ds-2"),
    )
    log = backend.event_log
    everything = log.read(after_seq=0, limit=100)
    assert [r.xaction_id for r in everything] == ["a", "b", "c", "d"]
    seqs = [r.seq for r in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert log.last_seq() == seqs[-1]
    assert [r.xaction_id for r in log.read(after_seq=seqs[1], limit=100)] == ["c", "d"]
    assert [r.xaction_id for r in log.read(after_seq=seqs[0], limit=2)] == ["b", "c"]
    assert log.read(after_seq=seqs[-1], limit=100) == []


def test_a_reader_following_last_seq_sees_only_what_came_after(backend: Backend) -> None:
    write(backend, message("old"))
    log = backend.event_log
    mark = log.last_seq()
    write(backend, message("new-1"), message("new-2"))
    assert [r.xaction_id for r in log.read(after_seq=mark, limit=10)] == ["new-1", "new-2"]
    assert log.last_seq() > mark
    assert log.read(after_seq=log.last_seq(), limit=10) == []
