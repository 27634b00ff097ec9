-- Cases a team can work to the end. See src/cases.rs and src/store/cases.rs.

-- Status is now open | waiting (on the customer) | solved; solved cases were "closed".
UPDATE cases SET status = 'solved' WHERE status = 'closed';
ALTER TABLE cases ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';  -- low | normal | high | urgent
ALTER TABLE cases ADD COLUMN assignee TEXT;                           -- the account's owner by default
ALTER TABLE cases ADD COLUMN first_response_at INTEGER;               -- the first reply to the user
ALTER TABLE cases ADD COLUMN csat_score INTEGER;                      -- "How did we do?" 1..5, after solving
ALTER TABLE cases ADD COLUMN csat_at INTEGER;
CREATE INDEX cases_by_user ON cases (project_key, user_id, status);

-- The timeline of a case: notes, replies (with their outbox row), changes, the CSAT answer.
CREATE TABLE case_timeline (
    seq         INTEGER PRIMARY KEY,
    project_key TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,       -- note | reply | status | priority | assignee | tags | csat
    author      TEXT,
    body        TEXT NOT NULL,
    delivery_id TEXT
);
CREATE INDEX case_timeline_by_case ON case_timeline (project_key, case_id, seq);

-- Reason tags ("export_speed", "pricing"): what stands in customers' way.
CREATE TABLE case_tags (
    project_key TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (project_key, case_id, tag)
);
CREATE INDEX case_tags_by_tag ON case_tags (project_key, tag);
