-- Ids and keys of `events` compare as bytes, as SQLite compares them (its
-- BINARY collation), not in the database's language order: they are opaque
-- identifiers, and every insert compares them in four to six index descents.
-- Under a linguistic collation (`en_US.UTF-8`, even `C.UTF-8`) each of those
-- comparisons goes through the C library's strcoll; in byte order it is a
-- memcmp. Changing a column's collation keeps the rows where they are and
-- rebuilds the indexes over it: on a large table this takes a while, once.
ALTER TABLE events
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN project_key TYPE text COLLATE "C",
    ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN anonymous_id TYPE text COLLATE "C",
    ALTER COLUMN user_id TYPE text COLLATE "C",
    ALTER COLUMN survey_id TYPE text COLLATE "C",
    ALTER COLUMN response_id TYPE text COLLATE "C",
    ALTER COLUMN question_id TYPE text COLLATE "C";
