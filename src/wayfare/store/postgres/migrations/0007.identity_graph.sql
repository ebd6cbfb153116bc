-- depends: 0006.dataset_retention
-- The identity graph (model/identity_graph.py, store/sql_identities.py): an org's own
-- namespaces, persons, the identities linked to each, which person ids were merged into
-- which, and the links the guardrails dropped.
CREATE TABLE identity_namespaces (
    org_id TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    is_unique BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, code)
);
CREATE TABLE persons (
    org_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, person_id)
);
CREATE TABLE identity_links (
    org_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    linked_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, namespace, id)
);
CREATE INDEX identity_links_by_person ON identity_links (org_id, person_id);
CREATE TABLE person_merges (
    org_id TEXT NOT NULL,
    absorbed TEXT NOT NULL,
    survivor TEXT NOT NULL,
    merged_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, absorbed)
);
CREATE INDEX person_merges_by_survivor ON person_merges (org_id, survivor);
CREATE TABLE identity_drops (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    cause TEXT NOT NULL,
    dropped_ms BIGINT NOT NULL
);
CREATE INDEX identity_drops_by_person ON identity_drops (org_id, person_id, seq);
