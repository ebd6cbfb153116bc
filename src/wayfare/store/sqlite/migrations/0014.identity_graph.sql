-- depends: 0013.dataset_retention
-- The identity graph (model/identity_graph.py, store/sql_identities.py): an org's own
-- namespaces, persons, the identities linked to each, which person ids were merged into
-- which, and the links the guardrails dropped.
CREATE TABLE identity_namespaces (
    org_id TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    is_unique INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, code)
);
CREATE TABLE persons (
    org_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, person_id)
);
CREATE TABLE identity_links (
    org_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    linked_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, namespace, id)
);
CREATE INDEX identity_links_by_person ON identity_links (org_id, person_id);
CREATE TABLE person_merges (
    org_id TEXT NOT NULL,
    absorbed TEXT NOT NULL,
    survivor TEXT NOT NULL,
    merged_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, absorbed)
);
CREATE INDEX person_merges_by_survivor ON person_merges (org_id, survivor);
CREATE TABLE identity_drops (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    cause TEXT NOT NULL,
    dropped_ms INTEGER NOT NULL
);
CREATE INDEX identity_drops_by_person ON identity_drops (org_id, person_id, seq);
-- The embedded event log (log/embedded.py) reads records now, so that the engine links the
-- identities of every valid message, not only of matched events: its position is a record's
-- seq, no longer a match outcome's. A stored position moves to the last record among the
-- outcomes it had reached (a record none of whose outcomes count is read again: only its
-- identities are linked).
CREATE INDEX event_matches_by_record ON event_matches (record_seq);
UPDATE log_positions SET position = COALESCE(
    (SELECT MAX(record_seq) FROM event_matches WHERE seq <= log_positions.position), 0
);
