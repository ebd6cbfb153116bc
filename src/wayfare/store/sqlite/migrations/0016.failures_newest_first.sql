-- depends: 0013.dataset_retention
-- The latest failed records of an org, or of one of its inlets, newest first (the console's
-- home and failures pages): read backwards along these instead of sorting every failed
-- record of the org, which took about half a second with 50,000 of them.
CREATE INDEX failures_by_org_seq ON failures (org_id, seq);
CREATE INDEX failures_by_inlet_seq ON failures (org_id, inlet_id, seq);
