-- What the collector no longer takes on the page's word (see the SQLite
-- migration 0005 for what each change means): event ids unique per
-- project, not across projects; `rejected`, `ts_flag` and `source` on events; the
-- response queue; the daily email quota.

ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (project_key, id);
ALTER TABLE events ADD COLUMN rejected TEXT, ADD COLUMN ts_flag TEXT,
    ADD COLUMN source TEXT NOT NULL DEFAULT 'page';
CREATE INDEX events_by_response ON events (project_key, response_id) WHERE response_id IS NOT NULL;

ALTER TABLE automation_queue DROP CONSTRAINT automation_queue_pkey, ADD PRIMARY KEY (project_key, event_id);
ALTER TABLE automation_runs DROP CONSTRAINT automation_runs_pkey, ADD PRIMARY KEY (project_key, trigger_id, rule_id);
ALTER TABLE cases DROP CONSTRAINT cases_pkey, ADD PRIMARY KEY (project_key, id);

CREATE TABLE response_queue (
    project_key TEXT NOT NULL,
    response_id TEXT NOT NULL,
    survey_id   TEXT NOT NULL,
    due_at      BIGINT NOT NULL,
    lease_until BIGINT,
    PRIMARY KEY (project_key, response_id)
);
CREATE INDEX response_queue_due ON response_queue (due_at);

CREATE TABLE email_quota (
    project_key TEXT NOT NULL,
    address     TEXT NOT NULL,
    day         BIGINT NOT NULL,
    delivery_id TEXT NOT NULL,
    PRIMARY KEY (project_key, address, day)
);
