-- Who was grouped into an account, answered from the index alone (see the
-- SQLite migration 0013).
DROP INDEX checklist_moments_by_key;
CREATE INDEX checklist_moments_by_key ON checklist_moments (project_key, kind, key, user_id);
