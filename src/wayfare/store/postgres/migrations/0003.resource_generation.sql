-- depends: 0002.journeys
-- A counter that moves with every change to what the inlet caches (schemas, datasets, inlets,
-- tokens, event configurations), in the same transaction as the change (as SQLite's 0010): an
-- inlet process drops what it cached as soon as it sees the counter move, whichever process
-- made the change.
CREATE TABLE resource_generation (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   BIGINT NOT NULL
);
INSERT INTO resource_generation (id, n) VALUES (1, 0);
CREATE FUNCTION bump_resource_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE resource_generation SET n = n + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER schemas_changed AFTER INSERT OR UPDATE OR DELETE ON schemas
    FOR EACH ROW EXECUTE FUNCTION bump_resource_generation();
CREATE TRIGGER datasets_changed AFTER INSERT OR UPDATE OR DELETE ON datasets
    FOR EACH ROW EXECUTE FUNCTION bump_resource_generation();
CREATE TRIGGER inlets_changed AFTER INSERT OR UPDATE OR DELETE ON inlets
    FOR EACH ROW EXECUTE FUNCTION bump_resource_generation();
CREATE TRIGGER tokens_changed AFTER INSERT OR UPDATE OR DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION bump_resource_generation();
CREATE TRIGGER events_changed AFTER INSERT OR UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION bump_resource_generation();
