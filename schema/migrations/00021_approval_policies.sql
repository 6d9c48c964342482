-- +goose Up
-- Approval policies (R-POL-1..3, R-POL-5). The account setting and the campaign's override: NULL is
-- the default (one stage of the request's approvers, one approval required: the behaviour before
-- policies), so existing accounts and campaigns keep it.
ALTER TABLE accounts ADD COLUMN approval_policy jsonb;
ALTER TABLE campaigns ADD COLUMN approval_policy jsonb;

-- A request keeps the policy it was submitted under, resolved against its approvers
-- (approval_policy: stages and rules with approver ids and numeric required), the stages it runs
-- (stages: the policy's stages plus those its rules added once the audience was counted), the stage
-- it waits for (current_stage, from 0) and its audience size (NULL while counting, R-POL-3).
-- Requests submitted before this migration ran under the default: NULL policy and stages, stage 0.
ALTER TABLE approval_requests
    ADD COLUMN approval_policy jsonb,
    ADD COLUMN stages          jsonb,
    ADD COLUMN current_stage   integer NOT NULL DEFAULT 0 CHECK (current_stage >= 0),
    ADD COLUMN audience_size   integer CHECK (audience_size >= 0);

-- The approvals of a stage (R-POL-2). The key is the second guard of N-of-M counting (R-POL-5): a
-- person approves a stage once, whatever the workflow lets through.
CREATE TABLE approval_stage_approvals (
    request_id uuid NOT NULL REFERENCES approval_requests (id) ON DELETE CASCADE,
    stage      integer NOT NULL CHECK (stage >= 0),
    user_id    uuid NOT NULL REFERENCES users (id),
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (request_id, stage, user_id)
);

-- History type of a completed stage.
ALTER TABLE approval_events DROP CONSTRAINT approval_events_type_check;
ALTER TABLE approval_events ADD CONSTRAINT approval_events_type_check CHECK (type IN ('submitted', 'approvers_changed',
    'approved', 'rejected', 'cancelled', 'timed_out', 'approver_expired', 'auto_approved', 'launched', 'launch_skipped',
    'reminded', 'escalated', 'stage_approved'));
-- The stage an event belongs to (NULL: the request as a whole, and every event before policies).
ALTER TABLE approval_events ADD COLUMN stage integer;

-- Webhook payloads are the request as GET answers it (R-HOOK-2): with its stages, current stage,
-- audience size and policy (R-POL-2), each stage's status as app.RequestStages computes it.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION webhook_request_json(request uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', r.id, 'account_id', r.account_id, 'campaign_id', r.campaign_id,
        'campaign_version', r.campaign_version, 'content_hash', r.content_hash, 'submitted_by', r.submitted_by,
        'note', r.note, 'status', r.status, 'decided_by', r.decided_by, 'decision_note', r.decision_note,
        'decided_at', webhook_time(r.decided_at), 'deadline_at', webhook_time(r.deadline_at),
        'launch_at', webhook_time(r.launch_at), 'created_at', webhook_time(r.created_at),
        'updated_at', webhook_time(r.updated_at),
        'approvers', (SELECT COALESCE(jsonb_agg(jsonb_build_object('user_id', u.id, 'name', u.name, 'email', u.email,
            'state', a.state) ORDER BY lower(u.email)), '[]'::jsonb)
            FROM approval_request_approvers a JOIN users u ON u.id = a.user_id WHERE a.request_id = r.id),
        'stages', (SELECT COALESCE(jsonb_agg(jsonb_build_object('name', st.name, 'required', st.required,
              'approvals', st.approvals,
              'status', CASE WHEN jsonb_array_length(st.approvals) >= st.required THEN 'approved'
                WHEN r.status = 'pending' AND st.i = r.current_stage THEN 'pending'
                WHEN r.status = 'pending' AND st.i > r.current_stage THEN 'waiting'
                WHEN r.status <> 'approved' AND st.i = r.current_stage THEN r.status
                ELSE 'skipped' END) ORDER BY st.i), '[]'::jsonb)
            FROM (
              SELECT (x.i - 1)::int AS i, x.s->>'name' AS name, (x.s->>'required')::int AS required,
                (SELECT COALESCE(jsonb_agg(jsonb_build_object('user_id', sa.user_id, 'at', webhook_time(sa.at))
                   ORDER BY sa.at, sa.user_id), '[]'::jsonb)
                 FROM approval_stage_approvals sa WHERE sa.request_id = r.id AND sa.stage = x.i - 1) AS approvals
              FROM jsonb_array_elements(r.stages) WITH ORDINALITY AS x(s, i)
              WHERE jsonb_typeof(r.stages) = 'array'
              UNION ALL
              SELECT 0, 'approval', 1, CASE WHEN r.status = 'approved' AND r.decided_by IS NOT NULL
                THEN jsonb_build_array(jsonb_build_object('user_id', r.decided_by, 'at', webhook_time(r.decided_at)))
                ELSE '[]'::jsonb END
              WHERE r.stages IS NULL OR jsonb_typeof(r.stages) <> 'array') st),
        'current_stage', r.current_stage,
        'audience_size', r.audience_size,
        'approval_policy', CASE WHEN r.approval_policy IS NULL OR jsonb_typeof(r.approval_policy) <> 'object' THEN 'null'::jsonb
          ELSE jsonb_build_object('stages', r.approval_policy->'stages',
            'rules', CASE WHEN jsonb_typeof(r.approval_policy->'rules') = 'array' THEN (SELECT COALESCE(jsonb_agg(
                jsonb_build_object('if', jsonb_build_object('audience_size_gt', x->'audience_size_gt'), 'add_stage', x->'add_stage')), '[]'::jsonb)
              FROM jsonb_array_elements(r.approval_policy->'rules') x) ELSE '[]'::jsonb END) END)
    FROM approval_requests r WHERE r.id = request
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION webhook_request_json(request uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', r.id, 'account_id', r.account_id, 'campaign_id', r.campaign_id,
        'campaign_version', r.campaign_version, 'content_hash', r.content_hash, 'submitted_by', r.submitted_by,
        'note', r.note, 'status', r.status, 'decided_by', r.decided_by, 'decision_note', r.decision_note,
        'decided_at', webhook_time(r.decided_at), 'deadline_at', webhook_time(r.deadline_at),
        'launch_at', webhook_time(r.launch_at), 'created_at', webhook_time(r.created_at),
        'updated_at', webhook_time(r.updated_at),
        'approvers', (SELECT COALESCE(jsonb_agg(jsonb_build_object('user_id', u.id, 'name', u.name, 'email', u.email,
            'state', a.state) ORDER BY lower(u.email)), '[]'::jsonb)
            FROM approval_request_approvers a JOIN users u ON u.id = a.user_id WHERE a.request_id = r.id))
    FROM approval_requests r WHERE r.id = request
$$;
-- +goose StatementEnd
ALTER TABLE approval_events DROP COLUMN stage;
DELETE FROM approval_events WHERE type = 'stage_approved';
ALTER TABLE approval_events DROP CONSTRAINT approval_events_type_check;
ALTER TABLE approval_events ADD CONSTRAINT approval_events_type_check CHECK (type IN ('submitted', 'approvers_changed',
    'approved', 'rejected', 'cancelled', 'timed_out', 'approver_expired', 'auto_approved', 'launched', 'launch_skipped',
    'reminded', 'escalated'));
DROP TABLE approval_stage_approvals;
ALTER TABLE approval_requests DROP COLUMN audience_size, DROP COLUMN current_stage, DROP COLUMN stages,
    DROP COLUMN approval_policy;
ALTER TABLE campaigns DROP COLUMN approval_policy;
ALTER TABLE accounts DROP COLUMN approval_policy;
