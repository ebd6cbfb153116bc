-- depends: 0003.journeys
-- A person's latest instance of a journey (re-entrance checks) without scanning the journey.
CREATE INDEX instances_by_journey_person ON instances (org_id, journey, identity, entered_ms);
