-- +goose Up
-- The account's launch feed (GET /v1/launches) pages by (launched_at, id) within one account, oldest
-- first; this index serves each page as one range read instead of a sort of the account's launches.
CREATE INDEX campaign_launches_account_feed ON campaign_launches (account_id, launched_at, id);

-- +goose Down
DROP INDEX campaign_launches_account_feed;
