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

-- +goose Down
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
