-- depends: 0009.console_reads
-- A person's journeys (GET /api/v1/profiles), as SQLite's 0017: the instances and step
-- events of each of the person's identities, newest first.
CREATE INDEX instances_by_person_entered ON instances (org_id, identity, entered_ms);
CREATE INDEX step_events_by_person ON step_events (org_id, identity, seq);
