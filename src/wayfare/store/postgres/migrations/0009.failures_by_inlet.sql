-- depends: 0006.dataset_retention
-- The latest failed records of one inlet of an org, newest first (the console's failures
-- page), as SQLite's 0016; the org's own are read along failures_by_org.
CREATE INDEX failures_by_inlet ON failures (org_id, inlet_id, seq);
