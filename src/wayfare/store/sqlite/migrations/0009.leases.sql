-- depends: 0008.partitions
-- Leases on the partitions of the event log, and the journey engines alive to hold them (each
-- alive until its last claim's time to live has passed).
CREATE TABLE partition_leases (
    partition    INTEGER PRIMARY KEY,
    owner        TEXT,
    epoch        INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL
);

CREATE TABLE workers (
    worker_id    TEXT PRIMARY KEY,
    expires_ms   INTEGER NOT NULL
);
