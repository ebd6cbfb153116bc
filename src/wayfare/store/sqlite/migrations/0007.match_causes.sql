-- depends: 0006.journey_generation
-- Why each unmatched outcome did not match, as a code (model/events.py, Unmatched): what
-- journeys act on is chosen by the code, not by the wording of the reason.
ALTER TABLE event_matches ADD COLUMN cause TEXT;
UPDATE event_matches SET cause = CASE
    WHEN reason LIKE 'identity missing%' THEN 'identity missing'
    WHEN reason LIKE 'namespace not%' THEN 'namespace mismatch'
    WHEN reason LIKE 'condition not met%' THEN 'condition not met'
    WHEN reason LIKE 'unknown eventID: the message has no%' THEN 'no eventID'
    WHEN reason LIKE 'unknown eventID%' THEN 'unknown eventID'
END WHERE NOT matched;
