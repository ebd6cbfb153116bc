-- depends: 0010.person_journeys
-- Streaming audiences, as SQLite's 0018: each org's audiences, each person's membership of
-- each, and the identities' recent events that conditions count. docs/profiles.md.
CREATE TABLE audiences (
    org_id      TEXT NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    condition   TEXT NOT NULL,
    description TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (org_id, name)
);
CREATE TABLE audience_memberships (
    org_id      TEXT NOT NULL,
    audience    TEXT COLLATE "C" NOT NULL,
    person_id   TEXT COLLATE "C" NOT NULL,
    entered_ms  BIGINT NOT NULL,
    exited_ms   BIGINT,
    PRIMARY KEY (org_id, audience, person_id)
);
CREATE INDEX audience_memberships_by_person ON audience_memberships (org_id, person_id);
CREATE TABLE identity_events (
    org_id      TEXT NOT NULL,
    namespace   TEXT COLLATE "C" NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL,
    event       TEXT COLLATE "C" NOT NULL,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX identity_events_by_identity
    ON identity_events (org_id, namespace, identity_id, event, at_ms);
CREATE INDEX identity_events_by_time ON identity_events (at_ms);
