-- Automations. See src/automations/mod.rs for how these are used.

-- Stored events that some automation rule listens to, waiting for the
-- worker. Written in the ingest transaction, so nothing accepted is missed;
-- `lease_until` lets a worker claim a row without holding a transaction.
CREATE TABLE automation_queue (
    event_id    TEXT PRIMARY KEY NOT NULL,
    project_key TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    lease_until INTEGER
);

-- One row per rule that ran for a trigger (an event id, or a synthetic id
-- such as churn_risk:<days>:<user>): the primary key is what makes every
-- effect happen at most once.
CREATE TABLE automation_runs (
    trigger_id  TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    project_key TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (trigger_id, rule_id)
);
CREATE INDEX automation_runs_by_rule ON automation_runs (project_key, rule_id);

-- Webhooks and emails to deliver, with their retry state.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL,  -- the delivery id, stable across retries
    project_key     TEXT NOT NULL,
    rule_id         TEXT NOT NULL,
    trigger_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,              -- webhook | email
    target          TEXT NOT NULL,              -- URL, or recipient
    payload         TEXT NOT NULL,              -- exact body, or the whole message
    signature       TEXT,                       -- webhooks: sha256=<hex HMAC of payload>
    status          TEXT NOT NULL,              -- pending | delivered | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_project ON outbox (project_key, created_at);

-- Every delivery attempt, as it went.
CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- Follow-ups for a person.
CREATE TABLE cases (
    id           TEXT PRIMARY KEY NOT NULL,
    project_key  TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    trigger_id   TEXT NOT NULL,
    title        TEXT NOT NULL,
    user_id      TEXT,
    anonymous_id TEXT,
    detail       TEXT NOT NULL,                 -- JSON
    status       TEXT NOT NULL,                 -- open | closed
    created_at   INTEGER NOT NULL,
    closed_at    INTEGER,
    note         TEXT
);
CREATE INDEX cases_by_project ON cases (project_key, status, created_at);
