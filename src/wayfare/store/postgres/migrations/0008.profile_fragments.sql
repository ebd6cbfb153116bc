-- depends: 0006.dataset_retention
-- Profile attributes, as SQLite's 0015: datasets flagged profile-enabled, the fragment each
-- such dataset holds about each identity (its leaves: [[path...], value, time_ms], ...), and
-- each org's merge policy. docs/profiles.md.
ALTER TABLE datasets ADD COLUMN profile BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE profile_fragments (
    org_id      TEXT NOT NULL,
    namespace   TEXT COLLATE "C" NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL,
    dataset_id  TEXT COLLATE "C" NOT NULL,
    leaves      JSON NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (org_id, namespace, identity_id, dataset_id)
);
CREATE TABLE merge_policies (
    org_id  TEXT PRIMARY KEY,
    body    JSON NOT NULL
);
