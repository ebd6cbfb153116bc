-- depends: 0003.resource_generation
-- Why the journey engine paused a version (its steps kept failing), as SQLite's 0011: a
-- paused version takes no one in until it is resumed (or published again); NULL when it is
-- not paused.
ALTER TABLE journeys ADD COLUMN paused TEXT;
