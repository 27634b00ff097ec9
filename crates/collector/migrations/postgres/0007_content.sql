-- Content per project (surveys, checklists, help articles, targeting), kept
-- in the database so a publish reaches widgets without a restart or deploy
-- (see src/content/mod.rs; the SQLite migration 0009 is the same). Every publish is a new, immutable row in
-- `content_versions`; the highest version of an item is the one served. A
-- rollback publishes an old body again as a new version, so history only
-- grows and a response's recorded version always names what was shown.
CREATE TABLE content_versions (
    project_key  TEXT NOT NULL,
    kind         TEXT NOT NULL,     -- survey | checklists | help | targeting
    item_id      TEXT NOT NULL,
    version      BIGINT NOT NULL,  -- 1, 2, … per item
    body         TEXT NOT NULL,     -- the definition as validated when published
    published_by TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    origin       TEXT NOT NULL,     -- 'editor' (admin API, dashboard) or 'push' (files)
    diff         TEXT NOT NULL,     -- JSON: the changes against the previous version, by path
    note         TEXT,              -- e.g. 'rollback to version 1'
    PRIMARY KEY (project_key, kind, item_id, version)
);

-- One draft per item, always valid (an invalid one is refused with 422 and
-- not kept), published by copying it into `content_versions`.
CREATE TABLE content_drafts (
    project_key  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    body         TEXT NOT NULL,
    base_version BIGINT,           -- the version it was started from; NULL for a new item
    saved_by     TEXT NOT NULL,
    saved_at     BIGINT NOT NULL,
    PRIMARY KEY (project_key, kind, item_id)
);
