-- Shared rate limits: one token bucket per key for every gateway replica and worker
-- (auth.rate_buckets). A bucket holds ``tokens`` as of ``update_time`` and refills at ``rate``
-- a second up to ``burst``; a missing row is a full bucket, so rows that have refilled are
-- swept. ``granted`` is what the latest take handed out: RETURNING sees only the new row, and
-- the take is one INSERT ... ON CONFLICT DO UPDATE so that two replicas racing on one key are
-- serialised by its row lock.
CREATE TABLE rate_buckets (
    key         text             PRIMARY KEY CHECK (char_length(key) BETWEEN 1 AND 200),
    tokens      double precision NOT NULL CHECK (tokens >= 0),
    rate        double precision NOT NULL CHECK (rate > 0),
    burst       double precision NOT NULL CHECK (burst >= 1),
    granted     integer          NOT NULL CHECK (granted >= 0),
    update_time timestamptz      NOT NULL
);
