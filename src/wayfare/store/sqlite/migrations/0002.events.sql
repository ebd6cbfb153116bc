-- depends: 0001.initial
-- Event configurations and the outcome of matching each accepted message against them.
CREATE TABLE events (
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    schema_id   TEXT NOT NULL,
    event_id    TEXT,
    body        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (org_id, name)
);
CREATE UNIQUE INDEX events_by_event_id ON events (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX events_by_schema ON events (org_id, schema_id);

CREATE TABLE event_matches (
    seq         INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL,
    event_name  TEXT NOT NULL,
    xaction_id  TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    matched     INTEGER NOT NULL,
    identity    TEXT,
    reason      TEXT
);
CREATE INDEX event_matches_by_event ON event_matches (org_id, event_name, seq);
