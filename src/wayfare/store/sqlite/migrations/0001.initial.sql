-- Orgs, schemas, datasets, inlets, tokens, dataset records, failed records, message ids.
CREATE TABLE orgs (
    org_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE schemas (
    schema_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    alt_id      TEXT NOT NULL,
    definition  TEXT NOT NULL,
    json_schema TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (schema_id, version)
);
CREATE INDEX schemas_by_org_name ON schemas (org_id, name);
CREATE INDEX schemas_by_alt_id ON schemas (alt_id);

CREATE TABLE datasets (
    dataset_id  TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    schema_id   TEXT NOT NULL,
    is_default  INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX datasets_by_org ON datasets (org_id, schema_id);

CREATE TABLE inlets (
    inlet_id    TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE UNIQUE INDEX inlets_by_org_name ON inlets (org_id, name);

CREATE TABLE tokens (
    token_hash  TEXT PRIMARY KEY,
    inlet_id    TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER
);
CREATE INDEX tokens_by_inlet ON tokens (inlet_id);

-- Dataset records double as the embedded event log, consumed in seq order.
CREATE TABLE records (
    seq         INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL,
    dataset_id  TEXT NOT NULL,
    inlet_id    TEXT NOT NULL,
    schema_id   TEXT,
    xaction_id  TEXT NOT NULL,
    msg_id      TEXT,
    received_ms INTEGER NOT NULL,
    message     BLOB NOT NULL
);
CREATE INDEX records_by_dataset ON records (dataset_id, seq);

CREATE TABLE failures (
    seq         INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL,
    inlet_id    TEXT NOT NULL,
    dataset_id  TEXT,
    schema_id   TEXT,
    xaction_id  TEXT NOT NULL,
    msg_id      TEXT,
    received_ms INTEGER NOT NULL,
    reasons     BLOB NOT NULL,
    message     BLOB NOT NULL
);
CREATE INDEX failures_by_org_time ON failures (org_id, received_ms);

-- header.msgId is an idempotency key per organisation.
CREATE TABLE message_ids (
    org_id      TEXT NOT NULL,
    msg_id      TEXT NOT NULL,
    xaction_id  TEXT NOT NULL,
    PRIMARY KEY (org_id, msg_id)
) WITHOUT ROWID;
