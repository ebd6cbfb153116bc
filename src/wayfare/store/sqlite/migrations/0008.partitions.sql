-- depends: 0007.match_causes
-- Journey engines own partitions of the event log (model/partitions.py): instances, timers and
-- actions say which one they belong to; each partition's read position is kept; test entries
-- are queued for the engine that owns the person's partition.
ALTER TABLE instances ADD COLUMN partition INTEGER NOT NULL DEFAULT 0;
ALTER TABLE timers ADD COLUMN partition INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN partition INTEGER NOT NULL DEFAULT 0;

DROP INDEX timers_by_due;
CREATE INDEX timers_by_due ON timers (partition, due_ms);
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (partition, id) WHERE state = 'pending';

CREATE TABLE log_positions (
    partition    INTEGER PRIMARY KEY,
    position     INTEGER NOT NULL
);
INSERT INTO log_positions (partition, position)
    SELECT 0, seq FROM cursors WHERE name = 'journey-matches';
DROP TABLE cursors;

CREATE TABLE test_entries (
    id           INTEGER PRIMARY KEY,
    org_id       TEXT NOT NULL,
    journey      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    identity     TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    entity       TEXT NOT NULL
);
CREATE INDEX test_entries_by_partition ON test_entries (partition, id);
