-- What the collector no longer takes on the page's word.
--
-- 1. Event ids are chosen by the client, so they are unique per project, not
--    across projects: another project's event with the same id is a
--    different event, not a duplicate. The key becomes (project_key, id),
--    and so do the keys that hold an event id (the automation queue, the
--    automation runs, cases).
-- 2. `rejected`: why an event was stored without counting or acting on it
--    (a survey event its survey contradicts); NULL for the rest.
-- 3. `ts_flag`: why the client's `ts` is not believed (too far from the
--    server's clock); NULL when it is within the window.
-- 4. `source`: `page` (the public key; anyone can send it) or `server`
--    (the secret key: the host's backend). Only a server's `identify`
--    traits are believed as email recipients where identities are verified.
-- SQLite cannot change a primary key in place: each table is copied into
-- its new shape, keeping the rowid (the arrival order).

CREATE TABLE events_new (
    id           TEXT NOT NULL,
    project_key  TEXT NOT NULL,
    type         TEXT NOT NULL,
    ts           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    anonymous_id TEXT NOT NULL,
    user_id      TEXT,
    survey_id    TEXT,
    response_id  TEXT,
    question_id  TEXT,
    url          TEXT NOT NULL,
    body         TEXT NOT NULL,
    rejected     TEXT,
    ts_flag      TEXT,
    source       TEXT NOT NULL DEFAULT 'page',
    PRIMARY KEY (project_key, id)
);
INSERT INTO events_new (rowid, id, project_key, type, ts, received_at, anonymous_id, user_id, survey_id,
                        response_id, question_id, url, body)
    SELECT rowid, id, project_key, type, ts, received_at, anonymous_id, user_id, survey_id,
           response_id, question_id, url, body
    FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_by_survey ON events (survey_id, type, question_id, ts);
CREATE INDEX events_by_anonymous_id ON events (anonymous_id, ts);
CREATE INDEX events_by_user_id ON events (user_id, ts) WHERE user_id IS NOT NULL;
-- One response's events, for checking a new one against them.
CREATE INDEX events_by_response ON events (project_key, response_id) WHERE response_id IS NOT NULL;

CREATE TABLE automation_queue_new (
    event_id    TEXT NOT NULL,
    project_key TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    lease_until INTEGER,
    PRIMARY KEY (project_key, event_id)
);
INSERT INTO automation_queue_new SELECT event_id, project_key, enqueued_at, lease_until FROM automation_queue;
DROP TABLE automation_queue;
ALTER TABLE automation_queue_new RENAME TO automation_queue;

CREATE TABLE automation_runs_new (
    trigger_id  TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    project_key TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (project_key, trigger_id, rule_id)
);
INSERT INTO automation_runs_new SELECT trigger_id, rule_id, project_key, created_at FROM automation_runs;
DROP TABLE automation_runs;
ALTER TABLE automation_runs_new RENAME TO automation_runs;
CREATE INDEX automation_runs_by_rule ON automation_runs (project_key, rule_id);

CREATE TABLE cases_new (
    id           TEXT NOT NULL,
    project_key  TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    trigger_id   TEXT NOT NULL,
    title        TEXT NOT NULL,
    user_id      TEXT,
    anonymous_id TEXT,
    detail       TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    closed_at    INTEGER,
    note         TEXT,
    PRIMARY KEY (project_key, id)
);
INSERT INTO cases_new (rowid, id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail, status,
                       created_at, closed_at, note)
    SELECT rowid, id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail, status,
           created_at, closed_at, note
    FROM cases;
DROP TABLE cases;
ALTER TABLE cases_new RENAME TO cases;
CREATE INDEX cases_by_project ON cases (project_key, status, created_at);

-- Survey responses some automation rule watches, waiting to be settled:
-- rules keyed on an answer act on the response's final answer, so they run
-- when the response closes (completed or dismissed: due at once) or after a
-- quiet time with no new answer (due_at moves on with each answer). Written
-- in the ingest transaction; `lease_until` lets a worker claim a row.
CREATE TABLE response_queue (
    project_key TEXT NOT NULL,
    response_id TEXT NOT NULL,
    survey_id   TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    lease_until INTEGER,
    PRIMARY KEY (project_key, response_id)
);
CREATE INDEX response_queue_due ON response_queue (due_at);

-- Follow-up emails of projects that do not verify identities: the key lets
-- one email per address per (UTC) day through, whichever collector sends it.
CREATE TABLE email_quota (
    project_key TEXT NOT NULL,
    address     TEXT NOT NULL,   -- lowercase
    day         INTEGER NOT NULL, -- days since the epoch, UTC
    delivery_id TEXT NOT NULL,
    PRIMARY KEY (project_key, address, day)
);
