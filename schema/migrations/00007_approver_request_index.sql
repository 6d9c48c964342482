-- +goose Up
-- A decision checks one (approver, request) pair. With the approver alone in the index that check
-- read every request the approver was ever assigned to, and grew with each one; the inbox still
-- uses the index's leading column.
CREATE INDEX approval_request_approvers_user_request ON approval_request_approvers (user_id, request_id) WHERE state = 'assigned';
DROP INDEX approval_request_approvers_user;

-- +goose Down
CREATE INDEX approval_request_approvers_user ON approval_request_approvers (user_id) WHERE state = 'assigned';
DROP INDEX approval_request_approvers_user_request;
