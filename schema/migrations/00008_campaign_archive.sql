-- +goose Up
-- History is append-only (R-APPR-10): a campaign that ever had a request or a launch is archived
-- instead of deleted (hidden from lists, still readable by id), and the database refuses to
-- cascade its requests, their approvers and events, or its launch records away.
ALTER TABLE campaigns ADD COLUMN archived_at timestamptz;

DROP INDEX campaigns_list;
CREATE INDEX campaigns_list ON campaigns (account_id, created_at DESC, id DESC) WHERE NOT hidden AND archived_at IS NULL;

ALTER TABLE approval_requests DROP CONSTRAINT approval_requests_campaign_id_fkey,
    ADD CONSTRAINT approval_requests_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns (id) ON DELETE RESTRICT;
ALTER TABLE approval_request_approvers DROP CONSTRAINT approval_request_approvers_request_id_fkey,
    ADD CONSTRAINT approval_request_approvers_request_id_fkey FOREIGN KEY (request_id) REFERENCES approval_requests (id) ON DELETE RESTRICT;
ALTER TABLE approval_events DROP CONSTRAINT approval_events_request_id_fkey,
    ADD CONSTRAINT approval_events_request_id_fkey FOREIGN KEY (request_id) REFERENCES approval_requests (id) ON DELETE RESTRICT;
ALTER TABLE approval_events DROP CONSTRAINT approval_events_campaign_id_fkey,
    ADD CONSTRAINT approval_events_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns (id) ON DELETE RESTRICT;
ALTER TABLE campaign_launches DROP CONSTRAINT campaign_launches_campaign_id_fkey,
    ADD CONSTRAINT campaign_launches_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns (id) ON DELETE RESTRICT;

-- No request is submitted for an archived campaign. The API refuses it first; this is the second
-- guard for a submit that read the campaign before a concurrent archive committed (the submit holds
-- the campaign row locked when it inserts, so the check sees the archive). The error names the
-- constraint campaigns_not_archived, which the API answers as 409 campaign_archived.
-- +goose StatementBegin
CREATE FUNCTION signoff_refuse_archived_campaign() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM campaigns WHERE id = NEW.campaign_id AND archived_at IS NOT NULL) THEN
        RAISE EXCEPTION 'campaign % is archived', NEW.campaign_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'campaigns_not_archived';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER approval_requests_not_archived BEFORE INSERT ON approval_requests FOR EACH ROW
    EXECUTE FUNCTION signoff_refuse_archived_campaign();

-- +goose Down
DROP TRIGGER approval_requests_not_archived ON approval_requests;
DROP FUNCTION signoff_refuse_archived_campaign();

ALTER TABLE campaign_launches DROP CONSTRAINT campaign_launches_campaign_id_fkey,
    ADD CONSTRAINT campaign_launches_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns (id) ON DELETE CASCADE;
ALTER TABLE approval_events DROP CONSTRAINT approval_events_campaign_id_fkey,
    ADD CONSTRAINT approval_events_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns (id) ON DELETE CASCADE;
ALTER TABLE approval_events DROP CONSTRAINT approval_events_request_id_fkey,
    ADD CONSTRAINT approval_events_request_id_fkey FOREIGN KEY (request_id) REFERENCES approval_requests (id) ON DELETE CASCADE;
ALTER TABLE approval_request_approvers DROP CONSTRAINT approval_request_approvers_request_id_fkey,
    ADD CONSTRAINT approval_request_approvers_request_id_fkey FOREIGN KEY (request_id) REFERENCES approval_requests (id) ON DELETE CASCADE;
ALTER TABLE approval_requests DROP CONSTRAINT approval_requests_campaign_id_fkey,
    ADD CONSTRAINT approval_requests_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns (id) ON DELETE CASCADE;

DROP INDEX campaigns_list;
CREATE INDEX campaigns_list ON campaigns (account_id, created_at DESC, id DESC) WHERE NOT hidden;
ALTER TABLE campaigns DROP COLUMN archived_at;
