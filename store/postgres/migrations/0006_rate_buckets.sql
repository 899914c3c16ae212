-- Token buckets of the rate limits, shared by every replica (see
-- sqlstore/ratelimit.go). A bucket is one number, its theoretical arrival
-- time (GCRA): the bucket is full when tat <= now.
--
-- UNLOGGED: a counter lost in a crash is a full bucket, which is what a
-- fresh one is anyway, and a transaction that writes only unlogged tables
-- does not wait for the WAL to reach the disk — the difference between a
-- flush per lease and none.
CREATE UNLOGGED TABLE rate_buckets (
    bucket_key TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    tat_us     BIGINT NOT NULL,
    granted    BIGINT NOT NULL
);
CREATE INDEX rate_buckets_tat ON rate_buckets (tat_us);
