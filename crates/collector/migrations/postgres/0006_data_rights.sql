-- People's data rights and retention: see the SQLite migration 0008.

CREATE TABLE erasures (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_key  TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    erased_at    BIGINT NOT NULL,
    counts       TEXT NOT NULL
);
CREATE INDEX erasures_by_project ON erasures (project_key, erased_at);

CREATE INDEX events_by_received ON events (project_key, received_at);
