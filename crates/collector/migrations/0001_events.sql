-- Every event ever accepted, as received. `id` is the client's UUID: a
-- retried send hits the primary key and is reported as a duplicate.
CREATE TABLE events (
    id           TEXT PRIMARY KEY NOT NULL,
    project_key  TEXT NOT NULL,
    type         TEXT NOT NULL,
    ts           INTEGER NOT NULL,   -- client clock, ms since the epoch
    received_at  INTEGER NOT NULL,   -- server clock, ms since the epoch
    anonymous_id TEXT NOT NULL,
    user_id      TEXT,
    survey_id    TEXT,
    response_id  TEXT,
    question_id  TEXT,
    url          TEXT NOT NULL,
    body         TEXT NOT NULL       -- the event's JSON
);

CREATE INDEX events_by_survey ON events (survey_id, type, question_id, ts);
CREATE INDEX events_by_anonymous_id ON events (anonymous_id, ts);
