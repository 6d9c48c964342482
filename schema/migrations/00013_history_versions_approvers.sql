-- +goose Up
-- History names versions and recipients (R-VER-8). Every event carries the campaign version its
-- request pinned (approval_requests.campaign_version, copied when the event is written); submitted
-- and approvers_changed events also carry the request's assigned approvers as they were at that
-- moment, [{"id","name","email"}], written in the same transaction as the event, so a later rename or
-- a later change of approvers leaves the history as it was.
ALTER TABLE approval_events ADD COLUMN version integer, ADD COLUMN approvers jsonb;

-- Carry-over: an event written before this migration takes its version from its request (a request
-- pins its version once, so this is the version the event was about).
UPDATE approval_events e SET version = r.campaign_version FROM approval_requests r WHERE r.id = e.request_id;

-- The approvers of older submitted and approvers_changed events are left NULL ("not recorded"), on
-- purpose: the approver rows of a request keep only its latest assignment (a removed approver was there
-- at submission, a later one was not) and users' current names, not those of the moment, so anything
-- filled from them would be a guess that the history presents as fact.

-- +goose Down
ALTER TABLE approval_events DROP COLUMN approvers, DROP COLUMN version;
