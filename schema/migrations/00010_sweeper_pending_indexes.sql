-- +goose Up
-- The sweeper walks every pending request: the overdue ones by deadline, and all of them
-- round robin by id, to check that each one's workflow still runs. Pending requests are few among
-- all requests ever made; these partial indexes keep both walks to the pending ones.
CREATE INDEX approval_requests_pending_deadline ON approval_requests (deadline_at) WHERE status = 'pending';
CREATE INDEX approval_requests_pending_id ON approval_requests (id) WHERE status = 'pending';

-- +goose Down
DROP INDEX approval_requests_pending_id;
DROP INDEX approval_requests_pending_deadline;
