-- depends: 0017.person_journeys
-- Streaming audiences: each org's audiences (the condition's source, parsed again when read),
-- each person's membership of each (entered_ms; exited_ms once no longer qualifying), and the
-- identities' recent events that conditions count (kept for the longest window). docs/profiles.md.
CREATE TABLE audiences (
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    condition   TEXT NOT NULL,
    description TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (org_id, name)
);
CREATE TABLE audience_memberships (
    org_id      TEXT NOT NULL,
    audience    TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    entered_ms  INTEGER NOT NULL,
    exited_ms   INTEGER,
    PRIMARY KEY (org_id, audience, person_id)
);
CREATE INDEX audience_memberships_by_person ON audience_memberships (org_id, person_id);
CREATE TABLE identity_events (
    org_id      TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    at_ms       INTEGER NOT NULL
);
CREATE INDEX identity_events_by_identity
    ON identity_events (org_id, namespace, identity_id, event, at_ms);
CREATE INDEX identity_events_by_time ON identity_events (at_ms);
