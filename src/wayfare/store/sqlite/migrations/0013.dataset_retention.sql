-- depends: 0012.message_digests
-- How many days a dataset keeps its records (and failed records); NULL: for ever. Records
-- older than that are deleted in the background (registry/retention.py).
ALTER TABLE datasets ADD COLUMN retention_days INTEGER;
CREATE INDEX step_events_by_time ON step_events (at_ms);
