-- +goose Up
-- Every change to what a client review shows (its draft's status, token, AI completion or submission;
-- its feedback) is announced on the channel signoff_review with the draft id as payload, delivered at
-- commit. API processes cache a review's answer and drop it when they hear of a change (R-REVIEW-3).
-- +goose StatementBegin
CREATE FUNCTION signoff_review_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'approval_drafts' THEN
        PERFORM pg_notify('signoff_review', COALESCE(NEW.id, OLD.id)::text);
    ELSE
        PERFORM pg_notify('signoff_review', COALESCE(NEW.draft_id, OLD.draft_id)::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Comments arrive in batches (group commit): one announcement per draft per statement.
-- +goose StatementBegin
CREATE FUNCTION signoff_review_comments_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('signoff_review', draft_id::text) FROM (SELECT DISTINCT draft_id FROM added) AS a;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER approval_drafts_review_changed AFTER UPDATE ON approval_drafts FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
          OR OLD.ai_done_at IS DISTINCT FROM NEW.ai_done_at OR OLD.submitted_at IS DISTINCT FROM NEW.submitted_at)
    EXECUTE FUNCTION signoff_review_changed();
CREATE TRIGGER approval_drafts_review_deleted AFTER DELETE ON approval_drafts FOR EACH ROW
    EXECUTE FUNCTION signoff_review_changed();
CREATE TRIGGER review_items_changed AFTER INSERT OR UPDATE OR DELETE ON review_items FOR EACH ROW
    EXECUTE FUNCTION signoff_review_changed();
CREATE TRIGGER review_comments_added AFTER INSERT ON review_comments REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION signoff_review_comments_added();
CREATE TRIGGER review_comments_changed AFTER UPDATE OR DELETE ON review_comments FOR EACH ROW
    EXECUTE FUNCTION signoff_review_changed();

-- +goose Down
DROP TRIGGER review_comments_changed ON review_comments;
DROP TRIGGER review_comments_added ON review_comments;
DROP TRIGGER review_items_changed ON review_items;
DROP TRIGGER approval_drafts_review_deleted ON approval_drafts;
DROP TRIGGER approval_drafts_review_changed ON approval_drafts;
DROP FUNCTION signoff_review_comments_added();
DROP FUNCTION signoff_review_changed();
