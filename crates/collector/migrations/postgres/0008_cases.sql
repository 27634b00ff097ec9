-- Cases a team can work to the end: see the SQLite migration 0010.
UPDATE cases SET status = 'solved' WHERE status = 'closed';
ALTER TABLE cases ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE cases ADD COLUMN assignee TEXT;
ALTER TABLE cases ADD COLUMN first_response_at BIGINT;
ALTER TABLE cases ADD COLUMN csat_score BIGINT;
ALTER TABLE cases ADD COLUMN csat_at BIGINT;
CREATE INDEX cases_by_user ON cases (project_key, user_id, status);

CREATE TABLE case_timeline (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_key TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    author      TEXT,
    body        TEXT NOT NULL,
    delivery_id TEXT
);
CREATE INDEX case_timeline_by_case ON case_timeline (project_key, case_id, seq);

CREATE TABLE case_tags (
    project_key TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (project_key, case_id, tag)
);
CREATE INDEX case_tags_by_tag ON case_tags (project_key, tag);
