-- +goose Up
-- The launch feed (GET /v1/launches, R-VER-3) in commit order. Its cursor was (launched_at, id), and
-- launched_at is the launching transaction's start time: a launch that committed after a later-started
-- one had the earlier launched_at, and a poller already past that point never saw it.
--
-- Now each launch takes the next number of its account's feed (feed_seq) from launch_feed_counters,
-- in the launching transaction, as its last write but one: the counter row stays locked until that
-- transaction ends, so the next launch of the account gets its number only after this one committed
-- (or rolled back, and gave its number back). Numbers are therefore given in commit order, without
-- gaps, and a reader that sees number n sees every number below it: what the feed serves only ever
-- grows at its end, and a cursor (the last feed_seq read) never passes a launch that commits later.
CREATE TABLE launch_feed_counters (
    account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    last_seq   bigint NOT NULL CHECK (last_seq > 0)
);

ALTER TABLE campaign_launches ADD COLUMN feed_seq bigint;

-- Carry-over: the launches already written keep the order the feed served them in until now,
-- (launched_at, id) within their account, so a poller's place among them is kept; each account's
-- counter continues after its last one.
UPDATE campaign_launches l SET feed_seq = o.n
FROM (SELECT id, row_number() OVER (PARTITION BY account_id ORDER BY launched_at, id) AS n FROM campaign_launches) o
WHERE o.id = l.id;
INSERT INTO launch_feed_counters (account_id, last_seq)
SELECT account_id, max(feed_seq) FROM campaign_launches GROUP BY account_id;

ALTER TABLE campaign_launches ALTER COLUMN feed_seq SET NOT NULL;

-- Each page of an account's feed is one range read of this index (it replaces 00014's).
DROP INDEX campaign_launches_account_feed;
CREATE UNIQUE INDEX campaign_launches_account_feed ON campaign_launches (account_id, feed_seq);

-- +goose Down
DROP INDEX campaign_launches_account_feed;
CREATE INDEX campaign_launches_account_feed ON campaign_launches (account_id, launched_at, id);
ALTER TABLE campaign_launches DROP COLUMN feed_seq;
DROP TABLE launch_feed_counters;
