-- depends: 0021.person_events
-- The people at each activity of a journey now (its live instances, running or waiting, by
-- the activity they are at), kept by every write of instances (the engine's commit, merges,
-- privacy deletes), so that the journey canvas reads a few rows instead of every instance.
CREATE TABLE waiting_counts (
    org_id       TEXT NOT NULL,
    journey      TEXT NOT NULL,
    node         TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (org_id, journey, node)
);
INSERT INTO waiting_counts (org_id, journey, node, n)
    SELECT org_id, journey, json_extract(state, '$.node'), COUNT(*) FROM instances
    WHERE status IN ('running', 'waiting') AND json_extract(state, '$.node') IS NOT NULL
    GROUP BY 1, 2, 3;
