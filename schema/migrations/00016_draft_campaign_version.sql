-- +goose Up
-- An approval draft builds from a frozen campaign version (R-VER-7): the transaction that creates the
-- draft freezes the campaign's working copy (reusing the latest version when its content_hash is the
-- same, as a submit does) and stores its number here; the build's copy step copies that version's
-- content, never the working copy, so an edit made while the build waits never reaches the draft.
--
-- Carry-over: drafts created before this migration keep campaign_version NULL, on purpose. They were
-- (or, while still processing, will be) built from the working copy as it was when their copy step
-- ran, which no version records: naming the campaign's current version would claim content the draft
-- may not show. A NULL version keeps their old behaviour (the copy step copies the working copy) and
-- the API answers "campaign_version": null for them.
ALTER TABLE approval_drafts ADD COLUMN campaign_version integer,
    ADD CONSTRAINT approval_drafts_version_fkey FOREIGN KEY (campaign_id, campaign_version)
        REFERENCES campaign_versions (campaign_id, version);

-- +goose Down
ALTER TABLE approval_drafts DROP CONSTRAINT approval_drafts_version_fkey, DROP COLUMN campaign_version;
