-- depends: 0012.forwarded_events
-- Journeys starting on audience qualification, as SQLite's 0020: each membership change such
-- journeys start on, queued in the engine's commit that decided it for the engine holding
-- the partition of the identity the instances will carry.
CREATE TABLE audience_entries (
    id              BIGSERIAL PRIMARY KEY,
    org_id          TEXT NOT NULL,
    audience        TEXT COLLATE "C" NOT NULL,
    status          TEXT NOT NULL,
    person_id       TEXT COLLATE "C" NOT NULL,
    start_namespace TEXT COLLATE "C",
    namespace       TEXT COLLATE "C",
    identity_id     TEXT COLLATE "C",
    partition       INTEGER NOT NULL,
    at_ms           BIGINT NOT NULL
);
CREATE INDEX audience_entries_by_partition ON audience_entries (partition, id);
