-- depends: 0015.waiting_counts
-- Records and step events are read in seq order by those who follow them (a page after the
-- last seq seen), but PostgreSQL's transactions draw seqs in one order and commit in
-- another. A transaction announces the least seq it can draw before it draws any: a shared
-- advisory lock, held until it ends, keyed by the table and that seq (the two-key form, which
-- nothing else here takes). A follower's page stops below the least seq announced and below
-- the last seq drawn before it looked: every seq up to there is committed, rolled back or
-- announced. docs/design.md, "Following records on PostgreSQL".
CREATE FUNCTION followed_seq_tag(tbl text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE tbl WHEN 'records' THEN 22354 WHEN 'step_events' THEN 22355 END
$$;

CREATE FUNCTION announce_seq_draws(tbl text) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock_shared(
        (followed_seq_tag(tbl) << 16) | (next.n >> 31)::integer,
        (next.n & 2147483647)::integer
    )
    FROM (
        SELECT COALESCE(
            pg_sequence_last_value(pg_get_serial_sequence(tbl, 'seq')::regclass) + 1, 1
        ) AS n
    ) AS next
$$;

CREATE FUNCTION settled_seq(tbl text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    drawn bigint;
    announced bigint;
BEGIN
    -- The sequence first, the announcements after: a seq drawn before this read was
    -- announced before it, so its transaction shows below unless it has ended.
    drawn := COALESCE(pg_sequence_last_value(pg_get_serial_sequence(tbl, 'seq')::regclass), 0);
    SELECT min(((l.classid::bigint & 65535) << 31) | l.objid::bigint) INTO announced
    FROM pg_locks AS l
    WHERE l.locktype = 'advisory' AND l.objsubid = 2
      AND l.classid::bigint >> 16 = followed_seq_tag(tbl)
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
    RETURN CASE WHEN announced IS NULL THEN drawn ELSE least(drawn, announced - 1) END;
END
$$;

CREATE FUNCTION announce_step_event_draws() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM announce_seq_draws('step_events');
    RETURN NULL;
END
$$;

CREATE TRIGGER step_events_announce_draws BEFORE INSERT ON step_events
    FOR EACH STATEMENT EXECUTE FUNCTION announce_step_event_draws();
