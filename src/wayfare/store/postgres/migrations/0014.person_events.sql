-- depends: 0013.audience_entries
-- Experience events of profile-enabled datasets kept for the identity they are attached to,
-- as SQLite's 0021. docs/profiles.md.
CREATE TABLE person_events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      TEXT NOT NULL,
    namespace   TEXT COLLATE "C" NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL,
    at_ms       BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    dataset_id  TEXT NOT NULL,
    xaction_id  TEXT NOT NULL,
    event_type  TEXT,
    events      TEXT NOT NULL
);
CREATE INDEX person_events_by_identity
    ON person_events (org_id, namespace, identity_id, at_ms, seq);
CREATE INDEX person_events_by_time ON person_events (at_ms);
