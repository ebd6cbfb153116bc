-- depends: 0009.leases
-- A counter that moves with every change to what the inlet caches (schemas, datasets, inlets,
-- tokens, event configurations), in the same transaction as the change: an inlet process
-- drops what it cached as soon as it sees the counter move, whichever process made the change.
CREATE TABLE resource_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO resource_generation (id, n) VALUES (1, 0);
CREATE TRIGGER schemas_added AFTER INSERT ON schemas
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER schemas_changed AFTER UPDATE ON schemas
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER schemas_removed AFTER DELETE ON schemas
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER datasets_added AFTER INSERT ON datasets
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER datasets_changed AFTER UPDATE ON datasets
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER datasets_removed AFTER DELETE ON datasets
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER inlets_added AFTER INSERT ON inlets
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER inlets_changed AFTER UPDATE ON inlets
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER inlets_removed AFTER DELETE ON inlets
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER tokens_added AFTER INSERT ON tokens
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER tokens_changed AFTER UPDATE ON tokens
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER tokens_removed AFTER DELETE ON tokens
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER events_added AFTER INSERT ON events
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER events_changed AFTER UPDATE ON events
    BEGIN UPDATE resource_generation SET n = n + 1; END;
CREATE TRIGGER events_removed AFTER DELETE ON events
    BEGIN UPDATE resource_generation SET n = n + 1; END;
