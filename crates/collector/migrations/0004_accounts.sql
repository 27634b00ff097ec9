-- Accounts. See src/accounts/mod.rs for how these are used.

-- Health assessments of accounts, one row each time an account's score,
-- stage or tier changed: the history that trends are read from.
CREATE TABLE account_health (
    project_key TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    computed_at INTEGER NOT NULL,
    score       INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    tier        TEXT NOT NULL,
    breakdown   TEXT NOT NULL,                 -- JSON: the score's contributions
    PRIMARY KEY (project_key, account_id, computed_at)
);

-- Every routing decision with its reason. Written in the same transaction
-- as the rule's run row (automation_runs: at most once per trigger), its
-- cases and outbox rows. closed_at: a state rule's conditions no longer hold.
CREATE TABLE account_routing (
    trigger_id  TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    project_key TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    actions     TEXT NOT NULL,                 -- JSON: what the rule did
    assigned_to TEXT,                          -- the account's owner, for cases
    decided_at  INTEGER NOT NULL,
    closed_at   INTEGER,
    PRIMARY KEY (trigger_id, rule_id)
);
CREATE INDEX account_routing_by_account ON account_routing (project_key, account_id);

-- Named lists of accounts (upsell candidates, at risk), filled by routing.
CREATE TABLE account_lists (
    project_key TEXT NOT NULL,
    list        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (project_key, list, account_id)
);
