-- +goose Up
-- The version currently live; a live journey edited under keep_live keeps its old version running (R-CAMP-4).
ALTER TABLE campaigns ADD COLUMN live_version integer;

CREATE TABLE approval_requests (
    id                  uuid PRIMARY KEY,
    account_id          uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    campaign_id         uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    campaign_version    integer NOT NULL,
    submitted_by        uuid NOT NULL REFERENCES users (id),
    note                text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled', 'timed_out', 'expired')),
    decided_by          uuid REFERENCES users (id),
    decision_note       text NOT NULL DEFAULT '',
    decided_at          timestamptz,
    deadline_at         timestamptz NOT NULL,
    launch_at           timestamptz,
    workflow_started_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- One open request per campaign (R-APPR-3), enforced by the database too.
CREATE UNIQUE INDEX approval_requests_one_open ON approval_requests (campaign_id) WHERE status = 'pending';
CREATE INDEX approval_requests_campaign ON approval_requests (campaign_id, created_at DESC);
CREATE INDEX approval_requests_unstarted ON approval_requests (created_at) WHERE workflow_started_at IS NULL;

CREATE TABLE approval_request_approvers (
    request_id uuid NOT NULL REFERENCES approval_requests (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id),
    state      text NOT NULL DEFAULT 'assigned' CHECK (state IN ('assigned', 'expired', 'removed')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, user_id)
);
CREATE INDEX approval_request_approvers_user ON approval_request_approvers (user_id) WHERE state = 'assigned';

-- Append-only history (R-APPR-10). dedupe_key makes every recording idempotent; the key
-- '<request>:decision' lets a request hold one decision only (R-APPR-5).
CREATE TABLE approval_events (
    id          bigserial PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    request_id  uuid NOT NULL REFERENCES approval_requests (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type IN ('submitted', 'approvers_changed', 'approved', 'rejected', 'cancelled',
                'timed_out', 'approver_expired', 'auto_approved', 'launched', 'launch_skipped')),
    actor_id    uuid REFERENCES users (id),
    note        text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    dedupe_key  text NOT NULL UNIQUE
);
CREATE INDEX approval_events_request ON approval_events (request_id, id);
CREATE INDEX approval_events_campaign ON approval_events (campaign_id, id);

CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL DEFAULT '',
    campaign_id uuid REFERENCES campaigns (id) ON DELETE CASCADE,
    request_id  uuid REFERENCES approval_requests (id) ON DELETE CASCADE,
    read_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    dedupe_key  text NOT NULL UNIQUE
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);

-- Transactional outbox of emails: written in the same transaction as the event that causes them,
-- delivered by an activity when SendGrid is configured, listed by GET /v1/dev/outbox otherwise.
CREATE TABLE outbox_emails (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    to_email    text NOT NULL,
    to_name     text NOT NULL DEFAULT '',
    subject     text NOT NULL,
    body        text NOT NULL,
    request_id  uuid REFERENCES approval_requests (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    dedupe_key  text NOT NULL UNIQUE
);
CREATE INDEX outbox_emails_unsent ON outbox_emails (created_at) WHERE sent_at IS NULL;

-- What the sending system reads: one row per launched campaign version (R-APPR-8).
CREATE TABLE campaign_launches (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    version     integer NOT NULL,
    request_id  uuid REFERENCES approval_requests (id),
    launched_by uuid REFERENCES users (id),
    source      text NOT NULL CHECK (source IN ('workflow', 'api')),
    launched_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, version)
);

-- +goose Down
DROP TABLE campaign_launches;
DROP TABLE outbox_emails;
DROP TABLE notifications;
DROP TABLE approval_events;
DROP TABLE approval_request_approvers;
DROP TABLE approval_requests;
ALTER TABLE campaigns DROP COLUMN live_version;
