-- +goose Up
CREATE TABLE csv_uploads (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_by uuid NOT NULL REFERENCES users (id),
    filename   text NOT NULL DEFAULT '',
    columns    text[] NOT NULL,
    rows       jsonb NOT NULL,
    row_count  integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE approval_drafts (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    campaign_id      uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    number           integer NOT NULL,
    status           text NOT NULL DEFAULT 'processing'
                     CHECK (status IN ('processing', 'ready', 'failed', 'approved', 'not_approved')),
    source           jsonb NOT NULL,
    -- What the 10-minute in-flight window de-duplicates on (R-DRAFT-6), e.g. saved_search:<id>.
    source_key       text NOT NULL,
    contact_count    integer NOT NULL CHECK (contact_count BETWEEN 1 AND 100),
    copy_campaign_id uuid REFERENCES campaigns (id) ON DELETE SET NULL,
    progress         jsonb NOT NULL DEFAULT '{"step":"queued","done":0,"total":0}',
    failure_reason   text,
    token_hash       bytea UNIQUE,
    token_sealed     bytea,
    snapshot         jsonb,
    created_by       uuid NOT NULL REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    ready_at         timestamptz,
    ai_done_at       timestamptz,
    submitted_at     timestamptz,
    workflow_started_at timestamptz,
    UNIQUE (campaign_id, number)
);
CREATE INDEX approval_drafts_campaign ON approval_drafts (campaign_id, number DESC);
CREATE INDEX approval_drafts_processing ON approval_drafts (account_id) WHERE status = 'processing';
CREATE INDEX approval_drafts_unstarted ON approval_drafts (created_at) WHERE workflow_started_at IS NULL;

-- Leads of a campaign: the sample contacts a draft imports into its private copy.
CREATE TABLE campaign_leads (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    -- Where the lead came from (contact id, csv row, source lead id): a re-run imports nothing twice.
    source_ref   text NOT NULL,
    first_name   text NOT NULL,
    last_name    text NOT NULL,
    email        text NOT NULL DEFAULT '',
    title        text NOT NULL DEFAULT '',
    company_name text NOT NULL DEFAULT '',
    domain       text NOT NULL DEFAULT '',
    industry     text NOT NULL DEFAULT '',
    country      text NOT NULL DEFAULT '',
    company_size integer,
    ai           jsonb,
    ai_at        timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, source_ref)
);
CREATE INDEX campaign_leads_campaign ON campaign_leads (campaign_id, position);

-- +goose Down
DROP TABLE campaign_leads;
DROP TABLE approval_drafts;
DROP TABLE csv_uploads;
