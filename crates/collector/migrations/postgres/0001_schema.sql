-- The Postgres schema: the same tables as the SQLite migrations 0001-0003
-- (see there for what each column means), in Postgres types. `seq` is the
-- arrival order that SQLite gets from its rowid.

CREATE TABLE events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY,
    id           TEXT PRIMARY KEY NOT NULL,
    project_key  TEXT NOT NULL,
    type         TEXT NOT NULL,
    ts           BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    anonymous_id TEXT NOT NULL,
    user_id      TEXT,
    survey_id    TEXT,
    response_id  TEXT,
    question_id  TEXT,
    url          TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX events_by_project ON events (project_key, ts, seq);
CREATE INDEX events_by_survey ON events (survey_id, type, question_id, ts);
CREATE INDEX events_by_anonymous_id ON events (anonymous_id, ts);
CREATE INDEX events_by_user_id ON events (user_id, ts) WHERE user_id IS NOT NULL;

CREATE TABLE automation_queue (
    event_id    TEXT PRIMARY KEY NOT NULL,
    project_key TEXT NOT NULL,
    enqueued_at BIGINT NOT NULL,
    lease_until BIGINT
);

CREATE TABLE automation_runs (
    trigger_id  TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    project_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (trigger_id, rule_id)
);
CREATE INDEX automation_runs_by_rule ON automation_runs (project_key, rule_id);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    project_key     TEXT NOT NULL,
    rule_id         TEXT NOT NULL,
    trigger_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    signature       TEXT,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_project ON outbox (project_key, created_at);

CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE cases (
    id           TEXT PRIMARY KEY NOT NULL,
    project_key  TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    trigger_id   TEXT NOT NULL,
    title        TEXT NOT NULL,
    user_id      TEXT,
    anonymous_id TEXT,
    detail       TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    closed_at    BIGINT,
    note         TEXT
);
CREATE INDEX cases_by_project ON cases (project_key, status, created_at);
