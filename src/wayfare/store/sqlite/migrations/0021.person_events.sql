-- depends: 0020.audience_entries
-- Experience events of profile-enabled datasets, kept for the identity they are attached to
-- (model/person_events.py): a reference to the record (dataset, xactionId), when it
-- happened, its eventType and the names of the org's events it matched (a JSON list). Bounded
-- by age (a periodic delete by at_ms) and by count per identity (the engine's commit keeps
-- the newest). docs/profiles.md.
CREATE TABLE person_events (
    seq         INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    dataset_id  TEXT NOT NULL,
    xaction_id  TEXT NOT NULL,
    event_type  TEXT,
    events      TEXT NOT NULL
);
CREATE INDEX person_events_by_identity
    ON person_events (org_id, namespace, identity_id, at_ms, seq);
CREATE INDEX person_events_by_time ON person_events (at_ms);
