-- +goose Up
-- Immutable versions of a campaign (R-VER-1): what a submission or an approver's direct launch froze of
-- the working copy. content_hash is the SHA-256 hex of the canonical JSON of the frozen fields
-- (storage.FrozenFields.Hash). Versions are only ever inserted: the trigger below refuses every UPDATE
-- and DELETE. A campaign gets versions only when it is submitted or launched, and such a campaign is
-- archived, never deleted (migration 00008), so the foreign key restricts like those of its requests
-- and launches, and a campaign without versions can still be deleted outright.
CREATE TABLE campaign_versions (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE RESTRICT,
    version      integer NOT NULL CHECK (version > 0),
    content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    name         text NOT NULL,
    kind         text NOT NULL,
    mode         text NOT NULL,
    start_at     timestamptz,
    end_at       timestamptz,
    content      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   uuid REFERENCES users (id),
    PRIMARY KEY (campaign_id, version)
);

-- +goose StatementBegin
CREATE FUNCTION signoff_refuse_version_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'campaign versions are immutable: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'campaign_versions_immutable';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER campaign_versions_immutable BEFORE UPDATE OR DELETE ON campaign_versions FOR EACH ROW
    EXECUTE FUNCTION signoff_refuse_version_change();
CREATE TRIGGER campaign_versions_no_truncate BEFORE TRUNCATE ON campaign_versions FOR EACH STATEMENT
    EXECUTE FUNCTION signoff_refuse_version_change();

-- The hash a request pins beside campaign_version (R-VER-2); filled for existing requests, and made
-- NOT NULL, by migration 00012.
ALTER TABLE approval_requests ADD COLUMN content_hash text;
-- The version the campaign's approval approved (R-VER-2); live_version (00002) is the one launched.
ALTER TABLE campaigns ADD COLUMN approved_version integer;

-- +goose Down
ALTER TABLE campaigns DROP COLUMN approved_version;
ALTER TABLE approval_requests DROP COLUMN content_hash;
DROP TABLE campaign_versions;
DROP FUNCTION signoff_refuse_version_change();
