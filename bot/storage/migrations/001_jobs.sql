-- Every job the bot submits, recorded before the submit leaves the process.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- local id, exists before the API answers
    job_id          TEXT UNIQUE,                        -- Legnext job id (NULL until the API answered)
    task_type       TEXT NOT NULL,                      -- API task type: diffusion, upscale, video_diffusion, ...
    action          TEXT NOT NULL,                      -- what the member did: imagine, or a button action
    parent_job_id   TEXT,                               -- Legnext id of the job the follow-up was made on
    image_no        INTEGER,                            -- 0-based image or video number in the parent
    prompt          TEXT NOT NULL DEFAULT '',
    request_json    TEXT NOT NULL DEFAULT '{}',         -- the body sent to the API
    extra_json      TEXT NOT NULL DEFAULT '{}',         -- model, parent's available actions, ...
    requester_id    INTEGER NOT NULL,
    guild_id        INTEGER,
    channel_id      INTEGER,
    message_id      INTEGER,                            -- the public job message
    reply_to_id     INTEGER,                            -- the message whose button started it
    status          TEXT NOT NULL,                      -- submitting, pending, staged, processing, completed, failed, unknown
    output_json     TEXT,
    error           TEXT,
    frozen_points   INTEGER NOT NULL DEFAULT 0,
    consumed_points INTEGER NOT NULL DEFAULT 0,
    dedupe_key      TEXT,                               -- same button on the same image
    created_at      REAL NOT NULL,                      -- unix time, local
    submitted_at    REAL,
    started_at      REAL,
    finished_at     REAL,
    updated_at      REAL NOT NULL,
    shown_status    TEXT                                -- last status rendered to Discord
);
CREATE INDEX jobs_unfinished ON jobs(status) WHERE status IN ('submitting', 'pending', 'staged', 'processing');
CREATE INDEX jobs_requester ON jobs(requester_id, created_at);
CREATE INDEX jobs_dedupe ON jobs(dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE member_settings (
    user_id       INTEGER PRIMARY KEY,
    settings_json TEXT NOT NULL DEFAULT '{}',
    updated_at    REAL NOT NULL
);
