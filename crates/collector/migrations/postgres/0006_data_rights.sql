-- People's data rights and retention: see the SQLite migration 0008.

CREATE TABLE erasures (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_key  TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    erased_at    BIGINT NOT NULL,
    counts       TEXT NOT NULL
);
CREATE INDEX erasures_by_project ON erasures (project_key, erased_at);


-- Incremental account health: see the SQLite migration 0008.
CREATE TABLE accounts_dirty (
    project_key TEXT NOT NULL,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    version     BIGINT NOT NULL,
    lease_until BIGINT,
    PRIMARY KEY (project_key, kind, subject)
);
CREATE TABLE account_state (
    project_key TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    assessed_at BIGINT NOT NULL,
    PRIMARY KEY (project_key, account_id)
);
CREATE INDEX account_state_stalest ON account_state (project_key, assessed_at);
CREATE TABLE accounts_seeded (
    project_key TEXT PRIMARY KEY NOT NULL,
    seeded_at   BIGINT NOT NULL
);
CREATE INDEX events_by_group_account ON events (project_key, ((body::jsonb) ->> 'account_id')) WHERE type = 'group';
CREATE INDEX events_by_named_account ON events (project_key, ((body::jsonb) -> 'props' ->> 'account_id'))
    WHERE type = 'track';

-- A person's targeting facts kept up to date at ingest: see the SQLite migration 0008.
CREATE TABLE person_facts (
    project_key   TEXT NOT NULL,
    anonymous_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    item          TEXT NOT NULL,
    n             BIGINT NOT NULL,
    first_ts      BIGINT NOT NULL,
    last_ts       BIGINT NOT NULL,
    last_received BIGINT NOT NULL,
    PRIMARY KEY (project_key, anonymous_id, user_id, kind, item)
);
CREATE INDEX person_facts_by_user ON person_facts (project_key, user_id);
CREATE TABLE browser_owners (
    project_key  TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    PRIMARY KEY (project_key, anonymous_id)
);
CREATE INDEX browser_owners_by_user ON browser_owners (project_key, user_id);
INSERT INTO browser_owners (project_key, anonymous_id, user_id)
    SELECT DISTINCT ON (project_key, anonymous_id) project_key, anonymous_id, user_id
    FROM events WHERE user_id IS NOT NULL AND rejected IS NULL
    ORDER BY project_key, anonymous_id, received_at, seq;
INSERT INTO person_facts
    SELECT project_key, anonymous_id, user_id, kind, item, COUNT(*), MIN(ts), MAX(ts), MAX(received_at) FROM
        (SELECT project_key, anonymous_id, COALESCE(user_id, '') AS user_id, 'seen' AS kind, '' AS item, ts, received_at
         FROM events WHERE rejected IS NULL
         UNION ALL
         SELECT project_key, anonymous_id, COALESCE(user_id, ''),
                CASE type WHEN 'track' THEN 'track' WHEN 'survey_shown' THEN 'survey' ELSE 'nudge' END,
                COALESCE(CASE type WHEN 'track' THEN (body::jsonb) ->> 'name' WHEN 'survey_shown' THEN survey_id
                                   ELSE (body::jsonb) ->> 'nudge_id' END, ''),
                ts, received_at
         FROM events WHERE rejected IS NULL AND type IN ('track', 'survey_shown', 'nudge_shown')) AS facts
    GROUP BY project_key, anonymous_id, user_id, kind, item;
