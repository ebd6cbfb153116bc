-- depends: 0005.step_counts
-- A counter that moves with every change to a journey version, in the same transaction as the
-- change: an engine in another process sees a journey published before an event was sent as
-- soon as it sees the event.
CREATE TABLE journey_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO journey_generation (id, n) VALUES (1, 0);
CREATE TRIGGER journeys_added AFTER INSERT ON journeys
    BEGIN UPDATE journey_generation SET n = n + 1; END;
CREATE TRIGGER journeys_changed AFTER UPDATE ON journeys
    BEGIN UPDATE journey_generation SET n = n + 1; END;
CREATE TRIGGER journeys_removed AFTER DELETE ON journeys
    BEGIN UPDATE journey_generation SET n = n + 1; END;
