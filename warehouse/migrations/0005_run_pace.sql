-- The client's request pace at the end of each run (`RateLimiter.pace`): requests per second,
-- and whether it was learned from the server's 429s (TRUE) or is only how far the limiter's
-- slow start ramped without meeting one (FALSE). The next run starts from the latest
-- successful run's pace instead of slow start's 20 requests per second: an incremental of
-- ~100 pages spent most of its time ramping up (0.9 of 1.3 s at 1M assets, measured).
-- NULL for runs before this version and for runs whose client learns nothing.
ALTER TABLE sync_runs ADD COLUMN pace DOUBLE;
ALTER TABLE sync_runs ADD COLUMN pace_learned BOOLEAN;
