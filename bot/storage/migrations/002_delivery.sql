-- Delivery that cannot be lost: a finished job stays owed until Discord accepted its final message.
ALTER TABLE jobs ADD COLUMN delivered_at REAL;                       -- when Discord accepted the final message
ALTER TABLE jobs ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN undeliverable TEXT;                      -- why it can never be shown (channel gone, ...)
ALTER TABLE jobs ADD COLUMN ack_token TEXT;                          -- interaction token of a "thinking…" answer not yet resolved
ALTER TABLE jobs ADD COLUMN ack_app_id INTEGER;
ALTER TABLE jobs ADD COLUMN posting_at REAL;                         -- when the public message was first attempted
-- Jobs shown before this migration count as delivered, and so do jobs refused at submit (their member was told
-- ephemerally). Finished jobs never shown become owed and are delivered at the next start, unless they are more
-- than a day old: those are not posted into a channel after an upgrade, but counted as never shown.
UPDATE jobs SET delivered_at = updated_at
 WHERE status IN ('completed', 'failed', 'unknown')
   AND (shown_status = status OR (job_id IS NULL AND status = 'failed'));
UPDATE jobs SET undeliverable = 'finished more than a day before the upgrade that added delivery, never shown'
 WHERE status IN ('completed', 'failed', 'unknown') AND delivered_at IS NULL
   AND updated_at < CAST(strftime('%s', 'now') AS REAL) - 86400;
CREATE INDEX jobs_owed ON jobs(id)
 WHERE delivered_at IS NULL AND undeliverable IS NULL AND status IN ('completed', 'failed', 'unknown');
