-- See the SQLite migration 0012: what one person's checklist state is replayed from, kept at ingest.

-- Per item rule (its `complete_when`, as canonical JSON), the first events
-- that match it, up to the rule's count: later matches cannot change progress.
CREATE TABLE checklist_marks (
    project_key  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    rule         TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    seq          BIGINT NOT NULL,
    event_id     TEXT NOT NULL,
    PRIMARY KEY (project_key, user_id, anonymous_id, rule, received_at, seq)
);

-- The one event of each kind that decides: the first identify, the first
-- manual completion of an item, the first dismissal of a checklist, and the
-- last event that set each trait (identify traits, and group traits as `account.<trait>`);
-- for account-level items, the last `group` naming each account and the
-- earliest manual completion by `ts` (`received_at` then holds the `ts`).
CREATE TABLE checklist_moments (
    project_key  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    kind         TEXT NOT NULL,
    key          TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    seq          BIGINT NOT NULL,
    event_id     TEXT NOT NULL,
    PRIMARY KEY (project_key, user_id, anonymous_id, kind, key)
);
-- Who was grouped into an account (kind 'group', the account as key).
CREATE INDEX checklist_moments_by_key ON checklist_moments (project_key, kind, key);

-- Rules (and '', the moments; 'accounts', the account-level rows) whose rows cover every stored event of the
-- project: the backfill from stored events writes a rule here when it first
-- indexes it, and ingest keeps every rule listed here up to date.
CREATE TABLE checklist_rules (
    project_key TEXT NOT NULL,
    rule        TEXT NOT NULL,
    indexed_at  BIGINT NOT NULL,
    PRIMARY KEY (project_key, rule)
);

-- For account-level items: per person and key (an account rule's matches,
-- or a manual completion), how many events there are in all.
CREATE TABLE checklist_counts (
    project_key  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (project_key, user_id, anonymous_id, key)
);
