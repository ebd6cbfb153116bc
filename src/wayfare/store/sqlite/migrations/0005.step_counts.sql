-- depends: 0004.instances_by_person_journey
-- Step events counted per journey, activity and status as they are written, so a report reads
-- a few rows instead of counting every step event of the journey.
CREATE TABLE step_counts (
    org_id       TEXT NOT NULL,
    journey      TEXT NOT NULL,
    node         TEXT NOT NULL,
    node_type    TEXT NOT NULL,
    status       TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (org_id, journey, node, node_type, status)
);
INSERT INTO step_counts (org_id, journey, node, node_type, status, n)
    SELECT org_id, journey, node, node_type, status, COUNT(*) FROM step_events
    GROUP BY org_id, journey, node, node_type, status;
