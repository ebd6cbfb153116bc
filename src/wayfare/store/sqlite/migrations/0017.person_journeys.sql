-- depends: 0016.console_reads
-- A person's journeys (GET /api/v1/profiles): the instances and step events of each of the
-- person's identities, newest first, read backwards along these instead of sorting them all.
CREATE INDEX instances_by_person_entered ON instances (org_id, identity, entered_ms);
CREATE INDEX step_events_by_person ON step_events (org_id, identity, seq);
