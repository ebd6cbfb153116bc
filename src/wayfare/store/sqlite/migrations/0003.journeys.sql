-- depends: 0002.events
-- Journeys: versions, instances, durable timers, the action outbox, step events, discards.
ALTER TABLE event_matches ADD COLUMN record_seq INTEGER;

CREATE TABLE journeys (
    org_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    state        TEXT NOT NULL,
    test_mode    INTEGER NOT NULL DEFAULT 0,
    entry_event  TEXT NOT NULL,
    definition   TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    changed_ms   INTEGER NOT NULL,
    PRIMARY KEY (org_id, name, version)
);
CREATE INDEX journeys_by_entry ON journeys (org_id, entry_event, state);

CREATE TABLE instances (
    instance_id  TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    journey      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    identity     TEXT NOT NULL,
    status       TEXT NOT NULL,
    entered_ms   INTEGER NOT NULL,
    ended_ms     INTEGER,
    state        TEXT NOT NULL
);
CREATE INDEX instances_by_person ON instances (org_id, identity, status);
CREATE INDEX instances_by_journey ON instances (org_id, journey, status);

CREATE TABLE timers (
    id           INTEGER PRIMARY KEY,
    instance_id  TEXT NOT NULL,
    due_ms       INTEGER NOT NULL,
    token        INTEGER NOT NULL,
    kind         TEXT NOT NULL
);
CREATE INDEX timers_by_due ON timers (due_ms);
CREATE INDEX timers_by_instance ON timers (instance_id);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    instance_id  TEXT NOT NULL,
    node         TEXT NOT NULL,
    token        INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    request      TEXT NOT NULL,
    key          TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_ms      INTEGER NOT NULL,
    last_error   TEXT
);
CREATE INDEX outbox_pending ON outbox (state, next_ms);

CREATE TABLE step_events (
    seq          INTEGER PRIMARY KEY,
    org_id       TEXT NOT NULL,
    journey      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    node         TEXT NOT NULL,
    node_type    TEXT NOT NULL,
    instance_id  TEXT NOT NULL,
    identity     TEXT NOT NULL,
    status       TEXT NOT NULL,
    detail       TEXT,
    at_ms        INTEGER NOT NULL,
    entered_ms   INTEGER NOT NULL
);
CREATE INDEX step_events_by_journey ON step_events (org_id, journey, seq);

CREATE TABLE discards (
    seq          INTEGER PRIMARY KEY,
    org_id       TEXT NOT NULL,
    journey      TEXT NOT NULL,
    identity     TEXT,
    cause        TEXT NOT NULL,
    at_ms        INTEGER NOT NULL
);
CREATE INDEX discards_by_journey ON discards (org_id, journey);

CREATE TABLE cursors (
    name         TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL
);

CREATE TABLE test_profiles (
    org_id       TEXT NOT NULL,
    identity     TEXT NOT NULL,
    PRIMARY KEY (org_id, identity)
);
