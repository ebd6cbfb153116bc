-- depends: 0006.dataset_retention
-- What the console reads with a million records in the store, as SQLite's 0016.
-- The latest failed records of one inlet of an org, newest first (the failures page); the
-- org's own are read along failures_by_org.
CREATE INDEX failures_by_inlet ON failures (org_id, inlet_id, seq);
-- Every journey's people by status and those entered since midnight (the home page) in one
-- read of this index alone: it carries entered_ms now.
DROP INDEX instances_by_journey;
CREATE INDEX instances_by_journey ON instances (org_id, journey, status, entered_ms);
