-- depends: 0018.audiences
-- Events forwarded between journey engines: an event of one identity of a merged person that
-- wakes the person's instance kept under another identity, on another partition of the event
-- log (model/merged_runs.py, ``woken``). Written in the commit of the engine that read the
-- event, taken (and deleted) by the commit of the engine that holds the instance's partition.
CREATE TABLE forwarded_events (
    id           INTEGER PRIMARY KEY,
    partition    INTEGER NOT NULL,
    org_id       TEXT NOT NULL,
    instance_id  TEXT NOT NULL,
    event        TEXT NOT NULL,
    entity       TEXT NOT NULL
);
CREATE INDEX forwarded_events_by_partition ON forwarded_events (partition, id);
CREATE INDEX forwarded_events_by_instance ON forwarded_events (instance_id);
