-- depends: 0013.dataset_retention
-- Profile attributes: datasets flagged profile-enabled, the fragment each such dataset holds
-- about each identity (its leaves as JSON: [[path...], value, time_ms], ...), and each org's
-- merge policy (JSON, as the API takes it). docs/profiles.md.
ALTER TABLE datasets ADD COLUMN profile INTEGER NOT NULL DEFAULT 0;
CREATE TABLE profile_fragments (
    org_id      TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    dataset_id  TEXT NOT NULL,
    leaves      TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (org_id, namespace, identity_id, dataset_id)
);
CREATE TABLE merge_policies (
    org_id  TEXT PRIMARY KEY,
    body    TEXT NOT NULL
);
