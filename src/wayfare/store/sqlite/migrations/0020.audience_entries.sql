-- depends: 0019.identity_keys
-- Journeys starting on audience qualification: each membership change that such journeys
-- start on, queued in the journey engine's commit that decided it, for the engine holding
-- the partition of the identity the instances will carry (deleted in the commit that takes
-- it). start_namespace: the namespace the journeys name (NULL: the identity that made the
-- change); namespace and identity_id: the person's identity there (NULL: none).
CREATE TABLE audience_entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          TEXT NOT NULL,
    audience        TEXT NOT NULL,
    status          TEXT NOT NULL,
    person_id       TEXT NOT NULL,
    start_namespace TEXT,
    namespace       TEXT,
    identity_id     TEXT,
    partition       INTEGER NOT NULL,
    at_ms           INTEGER NOT NULL
);
CREATE INDEX audience_entries_by_partition ON audience_entries (partition, id);
