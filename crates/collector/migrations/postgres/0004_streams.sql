-- Event streams (see the SQLite migration 0006 for what each column means):
-- one cursor row per (project, stream) over the arrival order `seq`.
CREATE TABLE stream_cursors (
    project_key       TEXT NOT NULL,
    stream_id         TEXT NOT NULL,
    after_seq         BIGINT NOT NULL DEFAULT 0,
    delivered         BIGINT NOT NULL DEFAULT 0,
    last_delivered_at BIGINT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT,
    last_error_at     BIGINT,
    lease_holder      TEXT,
    lease_until       BIGINT,
    PRIMARY KEY (project_key, stream_id)
);

CREATE INDEX events_by_project_seq ON events (project_key, seq);
