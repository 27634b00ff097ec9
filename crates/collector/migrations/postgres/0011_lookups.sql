-- Who was grouped into an account, answered from the index alone (see the
-- SQLite migration 0013).
DROP INDEX checklist_moments_by_key;
CREATE INDEX checklist_moments_by_key ON checklist_moments (project_key, kind, key, user_id);

-- The accounts a user was grouped into, from their `group` events alone.
CREATE INDEX events_groups_by_user ON events (project_key, user_id) WHERE type = 'group';
