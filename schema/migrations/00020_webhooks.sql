-- +goose Up
-- Webhooks (SPEC §6c, R-HOOK-1..5). An account's admins register endpoints; every state change that
-- R-HOOK-1 names writes an event and one delivery per subscribed endpoint in the transaction of the
-- change itself (the outbox of R-HOOK-3). The rows are written by triggers on the tables whose rows
-- are the state (approval_events, campaign_launches, approval_drafts), so every path that changes
-- the state writes them: the API, the workflows' steps, the sweeper and the approvals toggle. The
-- worker's dispatcher starts one delivery workflow per delivery row (webhook-delivery/{id}).
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    events          text[] NOT NULL CHECK (cardinality(events) > 0),
    -- The signing secret (whsec_…), sealed with SIGNOFF_SECRET_KEY as share tokens are; shown once.
    secret_sealed   bytea NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text,
    disabled_at     timestamptz,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, created_at);

-- An event as it is delivered: the body's id, type, created_at, account_id and data (the subject as
-- its GET answers it, frozen when the state changed). Written only when an endpoint subscribes.
CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigserial UNIQUE,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type        text NOT NULL,
    campaign_id uuid,
    subject_id  uuid NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One delivery of one event to one endpoint: its own workflow, webhook-delivery/{id}. A redelivery
-- (POST …/redeliver) is a new row pointing at the one it repeats.
CREATE TABLE webhook_deliveries (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id          uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    event_id            uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id         uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    redelivery_of       uuid REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts            integer NOT NULL DEFAULT 0,
    last_status_code    integer,
    next_try_at         timestamptz,
    workflow_started_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (event_id, endpoint_id) WHERE redelivery_of IS NULL;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_unstarted ON webhook_deliveries (created_at) WHERE workflow_started_at IS NULL;

-- Every attempt of a delivery (R-HOOK-4).
CREATE TABLE webhook_attempts (
    id            bigserial PRIMARY KEY,
    delivery_id   uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'gone')),
    response_code integer,
    error         text NOT NULL DEFAULT '',
    duration_ms   integer NOT NULL,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    next_try_at   timestamptz,
    UNIQUE (delivery_id, attempt)
);

-- A time as Go's encoding/json writes it (RFC 3339, UTC, Z), so data reads as the GET answers it.
-- +goose StatementBegin
CREATE FUNCTION webhook_time(t timestamptz) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t IS NULL THEN 'null'::jsonb
        ELSE to_jsonb(rtrim(rtrim(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z') END
$$;
-- +goose StatementEnd

-- An approval request as GET /v1/approval-requests/{id} answers it.
-- +goose StatementBegin
CREATE FUNCTION webhook_request_json(request uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
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

-- Writes event typ with data for every enabled endpoint of the account that subscribes to it, and
-- wakes the dispatchers (the notification is sent when the transaction commits).
-- +goose StatementBegin
CREATE FUNCTION webhook_emit(account uuid, typ text, campaign uuid, subject uuid, data jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ev uuid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.account_id = account AND e.enabled AND typ = ANY (e.events)) THEN
        RETURN;
    END IF;
    INSERT INTO webhook_events (account_id, type, campaign_id, subject_id, data)
    VALUES (account, typ, campaign, subject, data) RETURNING id INTO ev;
    INSERT INTO webhook_deliveries (account_id, event_id, endpoint_id)
    SELECT account, ev, e.id FROM webhook_endpoints e WHERE e.account_id = account AND e.enabled AND typ = ANY (e.events);
    PERFORM pg_notify('webhook_deliveries', '');
END
$$;
-- +goose StatementEnd

-- Request events: submitted, the decisions, and a skipped launch. A request that expires for want of
-- approvers is recorded as approver_expired under its decision key.
-- +goose StatementBegin
CREATE FUNCTION webhook_on_approval_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    typ text;
BEGIN
    typ := CASE NEW.type
        WHEN 'submitted' THEN 'approval_request.submitted'
        WHEN 'approved' THEN 'approval_request.approved'
        WHEN 'rejected' THEN 'approval_request.rejected'
        WHEN 'cancelled' THEN 'approval_request.cancelled'
        WHEN 'timed_out' THEN 'approval_request.timed_out'
        WHEN 'auto_approved' THEN 'approval_request.auto_approved'
        WHEN 'launch_skipped' THEN 'campaign.launch_skipped'
        WHEN 'approver_expired' THEN CASE WHEN NEW.dedupe_key = NEW.request_id::text || ':decision' THEN 'approval_request.expired' END
        END;
    IF typ IS NOT NULL THEN
        PERFORM webhook_emit(NEW.account_id, typ, NEW.campaign_id, NEW.request_id, webhook_request_json(NEW.request_id));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER webhook_approval_events AFTER INSERT ON approval_events
    FOR EACH ROW EXECUTE FUNCTION webhook_on_approval_event();

-- Launches, of the workflow and of POST …/launch: the launch record as GET /v1/launches lists it.
-- +goose StatementBegin
CREATE FUNCTION webhook_on_launch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhook_emit(NEW.account_id, 'campaign.launched', NEW.campaign_id, NEW.campaign_id,
        (SELECT jsonb_build_object('id', NEW.id, 'campaign_id', NEW.campaign_id, 'version', NEW.version,
            'request_id', NEW.request_id, 'launched_by', NEW.launched_by, 'source', NEW.source,
            'launched_at', webhook_time(NEW.launched_at), 'content_hash', v.content_hash, 'content', v.content)
         FROM campaign_versions v WHERE v.campaign_id = NEW.campaign_id AND v.version = NEW.version));
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER webhook_launches AFTER INSERT ON campaign_launches
    FOR EACH ROW EXECUTE FUNCTION webhook_on_launch();

-- Drafts: ready, failed, and submitted by the client (approved or not_approved). share_url is added
-- at delivery from the sealed token.
-- +goose StatementBegin
CREATE FUNCTION webhook_on_draft() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    typ text;
BEGIN
    typ := CASE NEW.status
        WHEN 'ready' THEN 'approval_draft.ready'
        WHEN 'failed' THEN 'approval_draft.failed'
        WHEN 'approved' THEN 'approval_draft.submitted'
        WHEN 'not_approved' THEN 'approval_draft.submitted'
        END;
    IF typ IS NOT NULL THEN
        PERFORM webhook_emit(NEW.account_id, typ, NEW.campaign_id, NEW.id, jsonb_build_object(
            'id', NEW.id, 'account_id', NEW.account_id, 'campaign_id', NEW.campaign_id,
            'campaign_version', NEW.campaign_version, 'number', NEW.number, 'name', 'Draft ' || NEW.number,
            'status', NEW.status, 'source', NEW.source, 'contact_count', NEW.contact_count, 'progress', NEW.progress,
            'failure_reason', NEW.failure_reason, 'created_by', NEW.created_by,
            'created_at', webhook_time(NEW.created_at), 'updated_at', webhook_time(NEW.updated_at),
            'ready_at', webhook_time(NEW.ready_at), 'ai_done_at', webhook_time(NEW.ai_done_at),
            'submitted_at', webhook_time(NEW.submitted_at), 'share_url', NULL));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER webhook_drafts AFTER UPDATE OF status ON approval_drafts
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION webhook_on_draft();

-- +goose Down
DROP TRIGGER webhook_drafts ON approval_drafts;
DROP TRIGGER webhook_launches ON campaign_launches;
DROP TRIGGER webhook_approval_events ON approval_events;
DROP FUNCTION webhook_on_draft();
DROP FUNCTION webhook_on_launch();
DROP FUNCTION webhook_on_approval_event();
DROP FUNCTION webhook_emit(uuid, text, uuid, uuid, jsonb);
DROP FUNCTION webhook_request_json(uuid);
DROP FUNCTION webhook_time(timestamptz);
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
