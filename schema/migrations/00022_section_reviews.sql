-- +goose Up
-- Per-section verdicts (R-POL-4): an approver may answer a pending request per section (audience, copy,
-- schedule) instead of all at once. One row per (request, approver, section), the last answer
-- winning while the request is pending; any change_request rejects the request, all three approved
-- is that approver's approval, both through the approve and reject Updates of the API. The row
-- belongs to the assignment (foreign key), so it goes with the request. call_id is the review call
-- that wrote the row, so a call whose decision the workflow refused takes back its own rows only.
--
-- Carry-over: the table is new and starts empty. Requests already pending have no verdicts; their
-- approvers may answer per section from now on, or approve and reject as before.
CREATE TABLE approval_section_reviews (
    request_id uuid NOT NULL,
    user_id    uuid NOT NULL,
    section    text NOT NULL CHECK (section IN ('audience', 'copy', 'schedule')),
    verdict    text NOT NULL CHECK (verdict IN ('approved', 'change_request')),
    note       text NOT NULL DEFAULT '' CHECK (char_length(note) <= 2000),
    call_id    uuid NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, user_id, section),
    FOREIGN KEY (request_id, user_id) REFERENCES approval_request_approvers (request_id, user_id) ON DELETE CASCADE
);

-- The decision page shows the approver's verdicts so far: a change announces 'r:<request id>' on the
-- channel the API processes' page caches hear (migration 00017).
CREATE TRIGGER approval_section_reviews_decision_link_changed AFTER INSERT OR UPDATE OR DELETE ON approval_section_reviews
    FOR EACH ROW EXECUTE FUNCTION signoff_decision_link_changed();

-- +goose Down
DROP TRIGGER approval_section_reviews_decision_link_changed ON approval_section_reviews;
DROP TABLE approval_section_reviews;
