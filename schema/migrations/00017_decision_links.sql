-- +goose Up
-- Decision links (R-ACT-1): every email asking an approver to decide carries
-- {SIGNOFF_PUBLIC_URL}/a/{token}, a no-login page where that approver approves or rejects. A link is
-- bound to one assignment (request, approver) by the foreign key; its token (32 random bytes) is kept
-- only as its SHA-256 hash. One assignment may hold several links (one per email that carried one).
-- revoked_at is set when the approver is removed from the request or their assignment expires;
-- used_at and used_csrf_hash when a decision was made through the link (used_csrf_hash is the hash of
-- the form token that made it, so a replay of that form is refused).
CREATE TABLE decision_links (
    id             bigserial PRIMARY KEY,
    token_hash     bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    account_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    request_id     uuid NOT NULL,
    user_id        uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    used_at        timestamptz,
    used_csrf_hash bytea,
    FOREIGN KEY (request_id, user_id) REFERENCES approval_request_approvers (request_id, user_id) ON DELETE CASCADE
);
CREATE INDEX decision_links_assignment ON decision_links (request_id, user_id);

-- Carry-over: requests already pending keep the emails they were sent, which carried no link; their
-- approvers decide through the API and the inbox as before. A link exists only inside an email, and
-- no email is written here: this migration does not know SIGNOFF_PUBLIC_URL, and a second email
-- about a request already announced would be noise. Every assignment made from now on gets one.

-- API processes keep rendered decision pages in memory while they hear this channel: every change
-- to what a decision page shows or allows is announced on signoff_decision_links, delivered at commit,
-- with 'r:<request id>' (the request's status, its approvers, its links) or 'u:<user id>' (a user's
-- name or approval right, which may show on any page) as payload.
-- +goose StatementBegin
CREATE FUNCTION signoff_decision_link_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('signoff_decision_links', 'u:' || NEW.id::text);
    ELSIF TG_TABLE_NAME = 'approval_requests' THEN
        PERFORM pg_notify('signoff_decision_links', 'r:' || NEW.id::text);
    ELSE
        PERFORM pg_notify('signoff_decision_links', 'r:' || COALESCE(NEW.request_id, OLD.request_id)::text);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER approval_requests_decision_link_changed AFTER UPDATE ON approval_requests FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION signoff_decision_link_changed();
CREATE TRIGGER approval_request_approvers_decision_link_changed AFTER INSERT OR UPDATE OR DELETE ON approval_request_approvers
    FOR EACH ROW EXECUTE FUNCTION signoff_decision_link_changed();
CREATE TRIGGER decision_links_changed AFTER UPDATE OR DELETE ON decision_links FOR EACH ROW
    EXECUTE FUNCTION signoff_decision_link_changed();
CREATE TRIGGER users_decision_link_changed AFTER UPDATE ON users FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.role IS DISTINCT FROM NEW.role
          OR OLD.can_approve IS DISTINCT FROM NEW.can_approve OR OLD.active IS DISTINCT FROM NEW.active)
    EXECUTE FUNCTION signoff_decision_link_changed();

-- +goose Down
DROP TRIGGER users_decision_link_changed ON users;
DROP TRIGGER decision_links_changed ON decision_links;
DROP TRIGGER approval_request_approvers_decision_link_changed ON approval_request_approvers;
DROP TRIGGER approval_requests_decision_link_changed ON approval_requests;
DROP FUNCTION signoff_decision_link_changed();
DROP TABLE decision_links;
