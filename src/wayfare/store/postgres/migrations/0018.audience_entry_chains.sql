-- depends: 0017.inlet_rates
-- A queued audience qualification made by a journey's updateProfile says how many such
-- changes in a row led to it (model/audiences.py, AudienceCheck.chain): past a bound, it
-- enters no journey, so two journeys that move a person between audiences stop.
ALTER TABLE audience_entries ADD COLUMN chain INTEGER NOT NULL DEFAULT 0;
