-- What one person's checklist state is replayed from, kept at ingest so that
-- `/v1/checklists/state` reads a bounded set of events however long their
-- history (crate::store::checklist_progress). Rows point at events by
-- arrival position and id; `user_id` is '' for events sent before identify.

-- Per item rule (its `complete_when`, as canonical JSON), the first events
-- that match it, up to the rule's count: later matches cannot change progress.
CREATE TABLE checklist_marks (
    project_key  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    rule         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
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
    received_at  INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
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
    indexed_at  INTEGER NOT NULL,
    PRIMARY KEY (project_key, rule)
);

-- For account-level items: per person and key (an account rule's matches,
-- or a manual completion), how many events there are in all: who did how
-- much is every contribution, not only the first.
CREATE TABLE checklist_counts (
    project_key  TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    anonymous_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (project_key, user_id, anonymous_id, key)
);
