-- depends: 0016.followed_seqs
-- Each inlet's rate limit, counted once for every scaled-out HTTP process: one token bucket
-- an inlet, which the processes take from in blocks (ingest/shared_rates.py). Unlogged: a
-- bucket lost in a crash starts full again, which is what a restart does anyway.
CREATE UNLOGGED TABLE inlet_rate_buckets (
    inlet_id TEXT PRIMARY KEY,
    tokens   DOUBLE PRECISION NOT NULL,
    at       TIMESTAMPTZ NOT NULL
);

-- Tokens of ``inlet``'s bucket (``rate`` a second, at most ``burst``): ``wanted`` of them,
-- or all there are when fewer but at least ``needed`` (a request larger than the bucket
-- needs only a full bucket, and leaves it in debt); else nothing, and a negative answer:
-- the seconds to wait for ``needed``. The server's clock.
CREATE FUNCTION take_inlet_tokens(
    inlet text, needed double precision, wanted double precision,
    rate double precision, burst double precision
) RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    now timestamptz := clock_timestamp();
    have double precision;
    least_needed double precision := least(needed, burst);
    granted double precision;
BEGIN
    INSERT INTO inlet_rate_buckets VALUES (inlet, burst, now) ON CONFLICT (inlet_id) DO NOTHING;
    SELECT least(burst, b.tokens + greatest(0, extract(epoch FROM now - b.at)) * rate)
        INTO have FROM inlet_rate_buckets AS b WHERE b.inlet_id = inlet FOR UPDATE;
    IF have < least_needed THEN
        UPDATE inlet_rate_buckets SET tokens = have, at = now WHERE inlet_id = inlet;
        RETURN -((least_needed - have) / rate);
    END IF;
    granted := greatest(needed, least(wanted, have));
    UPDATE inlet_rate_buckets SET tokens = have - granted, at = now WHERE inlet_id = inlet;
    RETURN granted;
END
$$;
