-- depends: 0018.audience_entry_chains
-- A message without an eventID is no event: no outcome is kept for it any more, and an
-- event's messages tell it from its record (model/matching.py, lacking_event_id). Those
-- kept before would be told twice.
DELETE FROM event_matches WHERE cause = 'no eventID';
