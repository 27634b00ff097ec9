-- Fewer index entries per stored event (ingest writes every index of
-- `events`; most events are `track`s with no survey and no account).
--
-- Only survey events have a `survey_id`; the reports that read by it name one,
-- which implies `IS NOT NULL`, so the partial index still serves them.
DROP INDEX events_by_survey;
CREATE INDEX events_by_survey ON events (survey_id, type, question_id, ts) WHERE survey_id IS NOT NULL;

-- The index of `track` events naming an account parsed every `track`'s body
-- as jsonb at insert. Only a body whose text names `"account_id"` can have
-- one (bodies are written by the collector, keys unescaped); the read says
-- the same, so the planner still takes the index.
DROP INDEX events_by_named_account;
CREATE INDEX events_by_named_account ON events (project_key, ((body::jsonb) -> 'props' ->> 'account_id'))
    WHERE type = 'track' AND body LIKE '%"account_id"%';
