-- Budgets, limits and the fair queue.
-- Every job reserves its points (the cost table) when it is recorded; what it spent is then, by status: consumed
-- once it ended, nothing when it failed or was cancelled, else the larger of what was reserved and what is frozen.
ALTER TABLE jobs ADD COLUMN reserved_points INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN queued_at REAL;                          -- when it entered the bot's queue
ALTER TABLE jobs ADD COLUMN queue_position INTEGER;                  -- last position shown while queued
ALTER TABLE jobs ADD COLUMN requeued INTEGER NOT NULL DEFAULT 0;     -- put back at the head (the API answered 429)
ALTER TABLE jobs ADD COLUMN cancelled_by INTEGER;                    -- who took it out of the queue
ALTER TABLE jobs ADD COLUMN sending_at REAL;                         -- its submit left (or was about to leave) the bot
-- jobs recorded before the queue went straight to the API: one still `submitting` may have reached it
UPDATE jobs SET sending_at = created_at WHERE status = 'submitting';
CREATE INDEX jobs_queued ON jobs(id) WHERE status = 'queued';
CREATE INDEX jobs_guild_day ON jobs(guild_id, created_at);

-- Per-server limits set by moderators with /limits (the [limits] section gives the defaults).
CREATE TABLE guild_limits (
    guild_id    INTEGER PRIMARY KEY,
    limits_json TEXT NOT NULL DEFAULT '{}',                          -- only the keys a moderator changed
    updated_by  INTEGER,
    updated_at  REAL NOT NULL
);
