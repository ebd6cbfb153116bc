-- depends: 0014.person_events
-- The people at each activity of a journey now, as SQLite's 0022: kept by every write of
-- instances, so that the journey canvas reads a few rows instead of every instance.
CREATE TABLE waiting_counts (
    org_id       TEXT NOT NULL,
    journey      TEXT NOT NULL,
    node         TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (org_id, journey, node)
);
INSERT INTO waiting_counts (org_id, journey, node, n)
    SELECT org_id, journey, state->>'node', COUNT(*) FROM instances
    WHERE status IN ('running', 'waiting') AND state->>'node' IS NOT NULL
    GROUP BY 1, 2, 3;
