-- Vary (Region)'s web editor: one row per link handed to a member (a signed token names it by `token_id`). What the
-- launcher needs when the page is submitted is kept here, and `used_at` makes each link good for one submission.
CREATE TABLE region_sessions (
    token_id     TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL,                 -- the Legnext grid job the inpaint is made on
    image_no     INTEGER NOT NULL,              -- 0-based image number
    member_id    INTEGER NOT NULL,
    member_json  TEXT NOT NULL,                 -- the member at the press (id, moderator, roles)
    where_json   TEXT NOT NULL,                 -- where the result is shown: a reply to the upscaled image
    expires_at   REAL NOT NULL,
    image_width  INTEGER,                       -- the upscaled image, once the page has shown it
    image_height INTEGER,
    used_at      REAL,                          -- submitted (a refused submission frees it again)
    job_local_id INTEGER,                       -- the job the submission started
    created_at   REAL NOT NULL
);
CREATE INDEX region_sessions_expiry ON region_sessions(expires_at);
