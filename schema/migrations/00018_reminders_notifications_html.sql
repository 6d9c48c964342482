-- +goose Up
-- Reminders and escalation (R-ACT-2). The account settings: reminder_after (24 hours unless changed,
-- 0 = off), escalate_after (0 = off) and escalation_user_ids (NULL: the account's admins, resolved
-- when a request is submitted). Existing accounts take the defaults.
ALTER TABLE accounts
    ADD COLUMN reminder_after      interval NOT NULL DEFAULT interval '24 hours' CHECK (reminder_after >= interval '0'),
    ADD COLUMN escalate_after      interval NOT NULL DEFAULT interval '0' CHECK (escalate_after >= interval '0'),
    ADD COLUMN escalation_user_ids uuid[];

-- A request keeps the settings it was submitted under: a later change of the account's settings does
-- not change a pending request, and the sweeper restarts a request's workflow with them. Requests
-- submitted before this migration were submitted without reminders or escalation: 0 and none.
ALTER TABLE approval_requests
    ADD COLUMN reminder_after      interval NOT NULL DEFAULT interval '0',
    ADD COLUMN escalate_after      interval NOT NULL DEFAULT interval '0',
    ADD COLUMN escalation_user_ids uuid[] NOT NULL DEFAULT '{}';

-- History types of reminders and escalation.
ALTER TABLE approval_events DROP CONSTRAINT approval_events_type_check;
ALTER TABLE approval_events ADD CONSTRAINT approval_events_type_check CHECK (type IN ('submitted', 'approvers_changed',
    'approved', 'rejected', 'cancelled', 'timed_out', 'approver_expired', 'auto_approved', 'launched', 'launch_skipped',
    'reminded', 'escalated'));

-- Notifications lead somewhere (R-ACT-3): link is the API path of the notification's subject, derived
-- from the subject's id, so every notification, old or new and whoever writes it, has one.
ALTER TABLE notifications ADD COLUMN link text GENERATED ALWAYS AS (
    CASE WHEN request_id IS NOT NULL THEN '/v1/approval-requests/' || request_id::text
         WHEN draft_id IS NOT NULL THEN '/v1/approval-drafts/' || draft_id::text
         WHEN campaign_id IS NOT NULL THEN '/v1/campaigns/' || campaign_id::text
         ELSE '' END) STORED;
-- The unread count of GET /v1/me and ?unread=true.
CREATE INDEX notifications_unread ON notifications (user_id, created_at DESC) WHERE read_at IS NULL;

-- Emails are text + HTML (R-ACT-4): the outbox keeps both parts. An email written before this migration
-- gets an HTML part made from its text: escaped, paragraphs and line breaks kept.
ALTER TABLE outbox_emails ADD COLUMN html text NOT NULL DEFAULT '';
UPDATE outbox_emails SET html = '<!DOCTYPE html><html><body><p>'
    || replace(replace(replace(replace(replace(replace(replace(body,
         '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&#34;'), '''', '&#39;'), E'\n\n', '</p><p>'), E'\n', '<br>')
    || '</p></body></html>';
-- An email the provider refused for good (a 4xx other than 429) is marked failed, with the provider's
-- answer, and never sent again.
ALTER TABLE outbox_emails ADD COLUMN failed_at timestamptz, ADD COLUMN failure text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox_emails DROP COLUMN failure, DROP COLUMN failed_at, DROP COLUMN html;
DROP INDEX notifications_unread;
ALTER TABLE notifications DROP COLUMN link;
DELETE FROM approval_events WHERE type IN ('reminded', 'escalated');
ALTER TABLE approval_events DROP CONSTRAINT approval_events_type_check;
ALTER TABLE approval_events ADD CONSTRAINT approval_events_type_check CHECK (type IN ('submitted', 'approvers_changed',
    'approved', 'rejected', 'cancelled', 'timed_out', 'approver_expired', 'auto_approved', 'launched', 'launch_skipped'));
ALTER TABLE approval_requests DROP COLUMN escalation_user_ids, DROP COLUMN escalate_after, DROP COLUMN reminder_after;
ALTER TABLE accounts DROP COLUMN escalation_user_ids, DROP COLUMN escalate_after, DROP COLUMN reminder_after;
