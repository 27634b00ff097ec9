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

-- No index on received_at for the retention worker: SQLite would take a
-- (project_key, received_at) index for every per-person read ordered by
-- arrival and scan the whole project; an hourly scan is cheaper.

-- Incremental account health (src/accounts/changes.rs). Who and what each
-- stored event touched — its user (or browser, before identify) and any
-- account it names — written in the ingest transaction, so the accounts
-- worker reassesses only the accounts those lead to. `version` moves on
-- with every new mark, so a row marked again while a worker held it is
-- processed again rather than lost.
CREATE TABLE accounts_dirty (
    project_key TEXT NOT NULL,
    kind        TEXT NOT NULL,   -- user | browser | account
    subject     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    lease_until INTEGER,
    PRIMARY KEY (project_key, kind, subject)
);
-- When each account was last assessed: time alone changes health
-- (recency), so the worker also reassesses the stalest few each period.
CREATE TABLE account_state (
    project_key TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    assessed_at INTEGER NOT NULL,
    PRIMARY KEY (project_key, account_id)
);
CREATE INDEX account_state_stalest ON account_state (project_key, assessed_at);
-- Projects whose accounts were assessed in full once (events stored before
-- the change log existed); afterwards only changes are.
CREATE TABLE accounts_seeded (
    project_key TEXT PRIMARY KEY NOT NULL,
    seeded_at   INTEGER NOT NULL
);
-- An account's members and the facts naming it, without reading the project's history.
CREATE INDEX events_by_group_account ON events (project_key, json_extract(body, '$.account_id')) WHERE type = 'group';
CREATE INDEX events_by_named_account ON events (project_key, json_extract(body, '$.props.account_id'))
    WHERE type = 'track';

-- A person's targeting facts kept up to date at ingest (src/store/person_facts.rs),
-- so /v1/config reads a few rows instead of replaying their history: per
-- browser and user ('' before identify) and per thing counted — `seen`
-- (any event), `track` (by name), `survey`, `nudge` (showings by id) —
-- how many, the first and last `ts`, and when the last one arrived.
CREATE TABLE person_facts (
    project_key   TEXT NOT NULL,
    anonymous_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    item          TEXT NOT NULL,
    n             INTEGER NOT NULL,
    first_ts      INTEGER NOT NULL,
    last_ts       INTEGER NOT NULL,
    last_received INTEGER NOT NULL,
    PRIMARY KEY (project_key, anonymous_id, user_id, kind, item)
);
CREATE INDEX person_facts_by_user ON person_facts (project_key, user_id);
-- The first user identified on each browser: its anonymous events are theirs.
CREATE TABLE browser_owners (
    project_key  TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    PRIMARY KEY (project_key, anonymous_id)
);
CREATE INDEX browser_owners_by_user ON browser_owners (project_key, user_id);
-- From the events already stored.
INSERT INTO browser_owners (project_key, anonymous_id, user_id)
    SELECT project_key, anonymous_id, user_id FROM
        (SELECT project_key, anonymous_id, user_id,
                ROW_NUMBER() OVER (PARTITION BY project_key, anonymous_id ORDER BY received_at, rowid) AS nth
         FROM events WHERE user_id IS NOT NULL AND rejected IS NULL)
    WHERE nth = 1;
INSERT INTO person_facts
    SELECT project_key, anonymous_id, user_id, kind, item, COUNT(*), MIN(ts), MAX(ts), MAX(received_at) FROM
        (SELECT project_key, anonymous_id, COALESCE(user_id, '') AS user_id, 'seen' AS kind, '' AS item, ts, received_at
         FROM events WHERE rejected IS NULL
         UNION ALL
         SELECT project_key, anonymous_id, COALESCE(user_id, ''),
                CASE type WHEN 'track' THEN 'track' WHEN 'survey_shown' THEN 'survey' ELSE 'nudge' END,
                COALESCE(CASE type WHEN 'track' THEN json_extract(body, '$.name') WHEN 'survey_shown' THEN survey_id
                                   ELSE json_extract(body, '$.nudge_id') END, ''),
                ts, received_at
         FROM events WHERE rejected IS NULL AND type IN ('track', 'survey_shown', 'nudge_shown'))
    GROUP BY project_key, anonymous_id, user_id, kind, item;
