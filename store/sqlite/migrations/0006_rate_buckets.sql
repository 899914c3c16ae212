-- Token buckets of the rate limits, shared by every process using the
-- database (see sqlstore/ratelimit.go). A bucket is one number, its
-- theoretical arrival time (GCRA): the bucket is full when tat <= now.
-- SQLite serves one process, which keeps its limits in memory; the table
-- is here so both backends have the same schema and pass the same tests.
CREATE TABLE rate_buckets (
    bucket_key TEXT    NOT NULL PRIMARY KEY,
    tat_us     INTEGER NOT NULL,
    granted    INTEGER NOT NULL
);
CREATE INDEX rate_buckets_tat ON rate_buckets (tat_us);
