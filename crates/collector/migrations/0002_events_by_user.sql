-- A user's events across browsers, for rebuilding their checklist progress.
-- Partial: events sent before `identify` have no user_id and are found
-- through their browser (events_by_anonymous_id) instead.
CREATE INDEX events_by_user_id ON events (user_id, ts) WHERE user_id IS NOT NULL;
