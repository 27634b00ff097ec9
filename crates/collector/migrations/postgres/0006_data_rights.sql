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
