-- depends: 0018.audiences
-- Events forwarded between journey engines: an event of one identity of a merged person that
-- wakes the person's instance kept under another identity, on another partition of the event
-- log (model/merged_runs.py, ``woken``). Written in the commit of the engine that read the
-- event, taken (and deleted) by the commit of the engine that holds the instance's partition.
-- And, below, the Email ids of stored instances, step events and discards normalised.
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

-- Journeys key people by their identity normalised as its namespace's ids are (an Email id
-- lower-cased and trimmed); instances, step events and discards written before kept the id
-- as sent. Those of journeys entered on an Email event take the normalised id, so the
-- person's later events, the merge reconciliation, the privacy delete and the profile view
-- find them. Embedded, the event log has one partition: an instance's partition stays right.
-- Only ids of printable ASCII are changed, where SQLite's lower() and trim() are Python's.
CREATE TEMP TABLE email_journeys AS
    SELECT DISTINCT j.org_id, j.name, j.version
    FROM journeys j JOIN events e ON e.org_id = j.org_id AND e.name = j.entry_event
    WHERE json_extract(e.body, '$.namespace') = 'Email';

UPDATE instances
SET identity = lower(trim(identity)), state = json_set(state, '$.identity', lower(trim(identity)))
WHERE identity <> lower(trim(identity)) AND identity NOT GLOB '*[^ -~]*'
  AND (org_id, journey, version) IN (SELECT org_id, name, version FROM email_journeys);

UPDATE step_events SET identity = lower(trim(identity))
WHERE identity <> lower(trim(identity)) AND identity NOT GLOB '*[^ -~]*'
  AND (org_id, journey, version) IN (SELECT org_id, name, version FROM email_journeys);

UPDATE discards SET identity = lower(trim(identity))
WHERE identity <> lower(trim(identity)) AND identity NOT GLOB '*[^ -~]*'
  AND (org_id, journey) IN (SELECT org_id, name FROM email_journeys);

DROP TABLE email_journeys;
