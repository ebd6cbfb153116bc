-- depends: 0005.message_digests
-- How many days a dataset keeps its records (and failed records), as SQLite's 0013; NULL:
-- for ever. Records older than that are deleted in the background (registry/retention.py).
ALTER TABLE datasets ADD COLUMN retention_days INTEGER;
CREATE INDEX step_events_by_time ON step_events (at_ms);
