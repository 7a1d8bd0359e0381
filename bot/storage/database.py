"""SQLite storage: one aiosqlite connection in WAL mode, numbered migrations versioned by `PRAGMA user_version`."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import tempfile
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every file in bot/storage/migrations, in order; numbers must run 1, 2, 3, ..."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("bot.storage.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        m = _MIGRATION_NAME.match(entry.name)
        if m is None:
            raise RuntimeError(f"migration file {entry.name} is not named NNN_lower_case_name.sql")
        found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration {name} is out of sequence (expected number {expected:03d})")
    return found


class DatabaseError(Exception):
    """The database cannot be used: `str(e)` names the file and the cause in plain words."""

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"cannot open the database {path}: {cause}")


def _strerror(e: OSError) -> str:
    return (e.strerror or str(e) or type(e).__name__).lower()


def _prepare_folder(path: Path) -> None:
    """Create the database's folder; a path that is a folder itself is refused at once."""
    if path.is_dir():
        raise DatabaseError(str(path), "the path is a directory, not a file")
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise DatabaseError(str(path), f"{folder} is a file, not a folder")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseError(str(path), f"cannot create its folder {path.parent} ({_strerror(e)})") from e


def _why_unopenable(path: Path) -> str | None:
    """SQLite said only "unable to open database file": find out whether the file or its folder is the problem."""
    if path.exists():
        try:
            with path.open("ab"):
                pass
        except OSError as e:
            return f"the database file is read-only (cannot open it for writing: {_strerror(e)})"
    try:
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.write-check-")
    except OSError as e:
        return (f"its folder {path.parent} is read-only (cannot create files there: {_strerror(e)}); "
                f"SQLite needs to create {path.name}-wal and {path.name}-shm next to the file")
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None


class Database:
    """`async with Database(path) as db:` opens, migrates and finally closes the database."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn: aiosqlite.Connection | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self) -> None:
        """Connect, check that the file is a readable and writable SQLite database, and migrate it.

        Any failure closes what was opened and raises `DatabaseError` with the cause in plain words.
        """
        try:
            await self._open()
        except BaseException as e:
            with contextlib.suppress(Exception):
                await self.close()  # a connection left open keeps its thread, and so the process, alive
            if isinstance(e, sqlite3.Error | OSError):
                raise DatabaseError(self.path, self._describe(e)) from e
            raise

    async def _open(self) -> None:
        if self.path != ":memory:":
            _prepare_folder(Path(self.path))
        self._conn = conn = await aiosqlite.connect(self.path)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await self.check()
        await self.migrate()

    async def check(self) -> None:
        """Read the whole file once (a damaged or truncated database fails here, not at the first job) and try a
        write that is rolled back (a read-only file or folder fails here too)."""
        async with self.conn.execute("PRAGMA quick_check(1)") as cur:
            row = await cur.fetchone()
        verdict = str(row[0]) if row else "no answer"
        if verdict != "ok":
            raise DatabaseError(self.path, f"the database file is damaged ({verdict}); "
                                           "restore a backup or move it away")
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            await self.conn.execute(f"PRAGMA user_version = {version}")
        finally:
            await self.conn.rollback()

    def _describe(self, e: BaseException) -> str:
        """One sentence for a failure to open or check the database."""
        if isinstance(e, OSError):
            return _strerror(e)
        name = str(getattr(e, "sqlite_errorname", ""))
        path = Path(self.path)
        if name == "SQLITE_NOTADB":
            return "file is not a database (corrupt or not SQLite)"
        if name.startswith("SQLITE_CORRUPT"):
            return f"the database file is damaged ({e}); restore a backup or move it away"
        if name == "SQLITE_READONLY_DIRECTORY":
            return (f"its folder {path.parent} is read-only; "
                    f"SQLite needs to create {path.name}-wal and {path.name}-shm next to the file")
        if name.startswith("SQLITE_READONLY"):
            return "the database file is read-only (check its permissions and owner)"
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return "the database is locked by another process (is another copy of the bot using this file?)"
        if name == "SQLITE_FULL":
            return "the disk is full"
        if name.startswith("SQLITE_CANTOPEN") and self.path != ":memory:":
            return _why_unopenable(path) or "unable to open the database file"
        return f"{e} ({name})" if name else str(e)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()  # stops the connection's worker thread even when closing fails

    async def migrate(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for version, name, sql in migrations():
            if version <= current:
                continue
            log.info("applying migration %s", name)
            await self.conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
            current = version
        return current

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # small helpers used by the repositories
    async def fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def execute_count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one statement and commit; returns how many rows it changed."""
        async with self.conn.execute(sql, params) as cur:
            count = cur.rowcount
        await self.conn.commit()
        return int(count)

    async def execute_if(self, sql: str, params: tuple[Any, ...] = ()) -> int | None:
        """Run a conditional INSERT (`INSERT ... SELECT ... WHERE`) and commit; its rowid, or None when the
        condition held it back."""
        async with self.conn.execute(sql, params) as cur:
            inserted = cur.rowcount > 0
            rowid = cur.lastrowid
        await self.conn.commit()
        return rowid if inserted else None

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one statement and commit; returns lastrowid."""
        async with self.conn.execute(sql, params) as cur:
            rowid = cur.lastrowid or 0
        await self.conn.commit()
        return rowid
