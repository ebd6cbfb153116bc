-- depends: 0013.dataset_retention
-- What the console reads with a million records in the store.
-- The latest failed records of an org, or of one of its inlets, newest first (the home and
-- failures pages): read backwards along these instead of sorting every failed record of the
-- org, which took about half a second with 50,000 of them.
CREATE INDEX failures_by_org_seq ON failures (org_id, seq);
CREATE INDEX failures_by_inlet_seq ON failures (org_id, inlet_id, seq);
-- Every journey's people by status and those entered since midnight (the home page) in one
-- read of this index alone: it carries entered_ms now.
DROP INDEX instances_by_journey;
CREATE INDEX instances_by_journey ON instances (org_id, journey, status, entered_ms);
