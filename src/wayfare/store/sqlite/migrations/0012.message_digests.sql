-- depends: 0011.journey_pauses
-- What the first message of each msgId said (16 bytes, ingest.inlet.message_digest): a
-- retry of the msgId with another message is refused (409) instead of acknowledged as the
-- first. NULL for msgIds stored before: their retries are duplicates, as they were.
ALTER TABLE message_ids ADD COLUMN digest BLOB;
