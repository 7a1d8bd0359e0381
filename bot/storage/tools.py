"""The operator's tools on the database, run beside the bot (`mjbot health`, `mjbot backup`): plain `sqlite3`, no
Discord, no secrets, and never a migration (the running bot owns the schema).

- `check_health`: the database opens, takes a write, and the running bot's heartbeat (written into `meta` every
  `HEARTBEAT_INTERVAL_S` while it is connected to Discord) is recent.
- `backup`: SQLite's online backup API, a consistent copy while the bot keeps writing (WAL mode), written next to
  its destination and renamed into place, checked, and made a single self-contained file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_KEY = "heartbeat"  # meta: unix time of the bot's last heartbeat
HEARTBEAT_INTERVAL_S = 30.0
HEARTBEAT_STALE_S = 4 * HEARTBEAT_INTERVAL_S  # older than this: the bot is stuck, stopped or not connected
BUSY_TIMEOUT_S = 5.0


class ToolError(Exception):
    """One line for the operator: what is wrong, in plain words."""


def _connect(path: Path) -> sqlite3.Connection:
    """An existing database, opened read-write, never created."""
    if not path.exists():
        raise ToolError(f"no database at {path} (storage.database; has the bot been started once?)")
    if path.is_dir():
        raise ToolError(f"{path} is a directory, not a database file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as e:
        raise ToolError(f"cannot open the database {path}: {e}") from None
    return conn


# ------------------------------------------------------------------------------------------------ health


@dataclass(frozen=True)
class Health:
    ok: bool
    line: str


def check_health(path: str | Path, *, now: float | None = None, stale_s: float = HEARTBEAT_STALE_S) -> Health:
    """Healthy: the database opens, a write succeeds, and the heartbeat is younger than `stale_s`."""
    p = Path(path)
    try:
        conn = _connect(p)
    except ToolError as e:
        return Health(False, f"unhealthy: {e}")
    with contextlib.closing(conn):
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (HEARTBEAT_KEY,)).fetchone()
            with conn:  # a real write, committed: a full disk or a read-only file shows here
                conn.execute("INSERT INTO meta(key, value) VALUES ('health_checked_at', ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (f"{time.time():.0f}",))
        except sqlite3.Error as e:
            return Health(False, f"unhealthy: the database {p} cannot be used: {e}")
    if row is None:
        return Health(False, f"unhealthy: database {p} is writable, but the bot has written no heartbeat yet "
                             "(starting, or not connected to Discord)")
    try:
        age = (time.time() if now is None else now) - float(row[0])
    except ValueError:
        return Health(False, f"unhealthy: the heartbeat in {p} is not a time ({row[0]!r})")
    if age > stale_s:
        return Health(False, f"unhealthy: database {p} is writable, but the bot's last heartbeat was {age:.0f}s ago "
                             f"(more than {stale_s:.0f}s: stopped, stuck, or not connected to Discord)")
    return Health(True, f"ok: database {p} is writable, heartbeat {max(age, 0):.0f}s ago")


# ------------------------------------------------------------------------------------------------ backup


@dataclass(frozen=True)
class BackupResult:
    path: Path
    jobs: int
    size: int


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return False


def backup(source: str | Path, dest: str | Path) -> BackupResult:
    """Copy the live database `source` to `dest` (a file, or a folder to put a dated file in), safely while the bot
    writes. Never overwrites the live database (or its -wal/-shm files). The copy is checked before it replaces
    `dest`."""
    src = Path(source)
    out = Path(dest)
    if out.is_dir():
        out = out / f"{src.stem}-{time.strftime('%Y%m%d-%H%M%S')}{src.suffix or '.sqlite3'}"
    live = [src, src.with_name(src.name + "-wal"), src.with_name(src.name + "-shm"),
            src.with_name(src.name + "-journal")]
    if any(_same_file(out, p) for p in live):
        raise ToolError(f"refusing to overwrite the live database {src}: give the backup another path")
    if not out.parent.is_dir():
        raise ToolError(f"cannot write the backup {out}: its folder {out.parent} does not exist")
    conn = _connect(src)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        with contextlib.closing(conn), contextlib.closing(sqlite3.connect(partial)) as copy:
            try:
                conn.backup(copy)  # all pages in one step: a consistent snapshot; WAL readers do not stop writers
            except sqlite3.Error as e:
                raise ToolError(f"backup of {src} failed: {e}") from None
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise ToolError(f"the backup of {src} is not sound ({check}); the live database may be damaged")
            jobs = int(copy.execute("SELECT count(*) FROM jobs").fetchone()[0]) if copy.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone() else 0
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, out)
    except OSError as e:
        raise ToolError(f"cannot write the backup {out}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return BackupResult(out, jobs, out.stat().st_size)
