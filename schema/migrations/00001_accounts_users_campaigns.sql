-- +goose Up
CREATE TABLE accounts (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                   text NOT NULL UNIQUE,
    approval_enabled       boolean NOT NULL DEFAULT true,
    allow_self_approval    boolean NOT NULL DEFAULT true,
    on_no_approvers        text NOT NULL DEFAULT 'expire' CHECK (on_no_approvers IN ('expire', 'hold')),
    journey_version_policy text NOT NULL DEFAULT 'keep_live' CHECK (journey_version_policy IN ('keep_live', 'passive')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email       text NOT NULL,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'editor', 'collaborator', 'approver', 'csm')),
    can_approve boolean NOT NULL DEFAULT false,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_account_email ON users (account_id, lower(email));

-- Only the SHA-256 of a token is stored (R-AUTH-1).
CREATE TABLE api_tokens (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE campaigns (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_by      uuid NOT NULL REFERENCES users (id),
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('campaign', 'journey')),
    mode            text NOT NULL CHECK (mode IN ('active', 'passive', 'test')),
    start_at        timestamptz,
    end_at          timestamptz,
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'ready', 'error', 'scheduled', 'live', 'ended')),
    approval_status text NOT NULL DEFAULT 'none' CHECK (approval_status IN ('none', 'pending', 'approved', 'rejected', 'timed_out', 'cancelled', 'expired')),
    version         integer NOT NULL DEFAULT 1,
    -- A hidden campaign is the private copy an approval draft builds; it never shows in lists (R-DRAFT-7).
    hidden          boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (end_at IS NULL OR start_at IS NULL OR end_at > start_at)
);
CREATE INDEX campaigns_list ON campaigns (account_id, created_at DESC, id DESC) WHERE NOT hidden;

CREATE TABLE campaign_segments (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    name        text NOT NULL,
    filters     jsonb NOT NULL DEFAULT '{}',
    UNIQUE (campaign_id, position)
);

CREATE TABLE campaign_prompts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    name        text NOT NULL,
    text        text NOT NULL,
    UNIQUE (campaign_id, position)
);

CREATE TABLE campaign_ai_model_configs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    step        text NOT NULL CHECK (step IN ('qualify', 'segment', 'personalise', 'rewrite')),
    provider    text NOT NULL,
    model       text NOT NULL,
    temperature double precision NOT NULL DEFAULT 0,
    UNIQUE (campaign_id, step)
);

CREATE TABLE campaign_sequences (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    name        text NOT NULL,
    UNIQUE (campaign_id, position)
);

CREATE TABLE campaign_sequence_steps (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sequence_id uuid NOT NULL REFERENCES campaign_sequences (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    delay_days  integer NOT NULL DEFAULT 0,
    UNIQUE (sequence_id, position)
);

CREATE TABLE campaign_tracking_links (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    url         text NOT NULL,
    label       text NOT NULL DEFAULT '',
    UNIQUE (campaign_id, position)
);

CREATE TABLE contacts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    first_name   text NOT NULL DEFAULT '',
    last_name    text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    title        text NOT NULL DEFAULT '',
    company_name text NOT NULL DEFAULT '',
    domain       text NOT NULL DEFAULT '',
    industry     text NOT NULL DEFAULT '',
    country      text NOT NULL DEFAULT '',
    company_size integer,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contacts_account_email ON contacts (account_id, lower(email)) WHERE email <> '';
CREATE INDEX contacts_account_id ON contacts (account_id, id);

CREATE TABLE saved_searches (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_by uuid NOT NULL REFERENCES users (id),
    name       text NOT NULL,
    filters    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saved_searches_account ON saved_searches (account_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE saved_searches;
DROP TABLE contacts;
DROP TABLE campaign_tracking_links;
DROP TABLE campaign_sequence_steps;
DROP TABLE campaign_sequences;
DROP TABLE campaign_ai_model_configs;
DROP TABLE campaign_prompts;
DROP TABLE campaign_segments;
DROP TABLE campaigns;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE accounts;
