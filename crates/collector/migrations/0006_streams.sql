-- Event streams: every accepted event forwarded, in batches, to a URL of the
-- host's (see src/streams/mod.rs). One cursor row per (project, stream):
-- `after_seq` is the last arrival position (rowid) passed on, so a stream
-- resumes where it stopped, whichever collector runs it next. The lease
-- (`lease_holder`, `lease_until`) lets one worker at a time send a stream's
-- next batch; `attempts`, `next_attempt_at` and `last_error*` are its
-- retries with backoff and what the dashboard shows as failures.
CREATE TABLE stream_cursors (
    project_key       TEXT NOT NULL,
    stream_id         TEXT NOT NULL,
    after_seq         INTEGER NOT NULL DEFAULT 0,
    delivered         INTEGER NOT NULL DEFAULT 0,  -- events delivered in all
    last_delivered_at INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0,  -- failed attempts since the last success
    next_attempt_at   INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    last_error_at     INTEGER,
    lease_holder      TEXT,
    lease_until       INTEGER,
    PRIMARY KEY (project_key, stream_id)
);

-- A project's events in arrival order (an index entry holds the rowid), for
-- reading a stream's next batch after its cursor.
CREATE INDEX events_by_project_arrival ON events (project_key);
