-- +goose Up
-- Idempotency keys expire 24 hours after their claim and are pruned. A key claimed again after it
-- expired gets a new claim_id, from which the ids of the resources it creates derive, so the reused
-- key creates anew instead of answering what its first use created. Rows claimed before this
-- migration keep a NULL claim_id (their ids derive from the key alone, as before).
ALTER TABLE idempotency_keys ADD COLUMN claim_id uuid;
ALTER TABLE idempotency_keys ALTER COLUMN claim_id SET DEFAULT gen_random_uuid();
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
-- Stored answers never hold secrets: answers kept before tokens and share links were withheld from
-- them are forgotten (a retry with such a key runs again).
DELETE FROM idempotency_keys
WHERE position('"token":"'::bytea IN response) > 0 OR position('"share_url":"'::bytea IN response) > 0;

-- +goose Down
DROP INDEX idempotency_keys_created_at;
ALTER TABLE idempotency_keys DROP COLUMN claim_id;
