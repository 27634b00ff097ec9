-- People's data rights and retention (see src/people.rs, src/retention.rs).

-- One row per erasure request: who asked is kept only as a keyed hash (an
-- HMAC of the user id under the project's secret key, so the log itself
-- names nobody) with how many rows and files went. Repeating an erasure
-- adds a row that counts nothing.
CREATE TABLE erasures (
    project_key  TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    erased_at    INTEGER NOT NULL,
    counts       TEXT NOT NULL   -- JSON: rows deleted per table, rows scrubbed
);
CREATE INDEX erasures_by_project ON erasures (project_key, erased_at);

-- The retention worker deletes a project's events by the server's clock.
CREATE INDEX events_by_received ON events (project_key, received_at);
