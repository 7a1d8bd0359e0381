"""Vary (Region)'s web editor links: what the launcher needs when a page is submitted, and whether the link was
used (each is good for one submission)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from bot.storage.database import Database

KEEP_EXPIRED_S = 86400.0  # rows of expired links are deleted a day later (their tokens are refused by their expiry)


@dataclass(frozen=True)
class RegionSession:
    token_id: str
    job_id: str
    image_no: int
    member_id: int
    member: dict[str, Any]
    where: dict[str, Any]
    expires_at: float
    image_width: int | None
    image_height: int | None
    used_at: float | None
    job_local_id: int | None


class RegionSessionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, token_id: str, *, job_id: str, image_no: int, member_id: int, member: dict[str, Any],
                     where: dict[str, Any], expires_at: float) -> None:
        now = time.time()
        await self.db.execute("DELETE FROM region_sessions WHERE expires_at < ?", (now - KEEP_EXPIRED_S,))
        await self.db.execute(
            "INSERT INTO region_sessions(token_id, job_id, image_no, member_id, member_json, where_json, expires_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (token_id, job_id, image_no, member_id, json.dumps(member), json.dumps(where), expires_at, now),
        )

    async def get(self, token_id: str) -> RegionSession | None:
        row = await self.db.fetchone("SELECT * FROM region_sessions WHERE token_id = ?", (token_id,))
        if row is None:
            return None
        return RegionSession(
            token_id=row["token_id"], job_id=row["job_id"], image_no=row["image_no"], member_id=row["member_id"],
            member=json.loads(row["member_json"]), where=json.loads(row["where_json"]),
            expires_at=row["expires_at"], image_width=row["image_width"], image_height=row["image_height"],
            used_at=row["used_at"], job_local_id=row["job_local_id"],
        )

    async def set_image_size(self, token_id: str, width: int, height: int) -> None:
        await self.db.execute_count(
            "UPDATE region_sessions SET image_width = ?, image_height = ? WHERE token_id = ?",
            (width, height, token_id),
        )

    async def claim(self, token_id: str) -> bool:
        """Mark the link used, if it is unused and unexpired; only one of any number of concurrent claims wins."""
        now = time.time()
        changed = await self.db.execute_count(
            "UPDATE region_sessions SET used_at = ? WHERE token_id = ? AND used_at IS NULL AND expires_at > ?",
            (now, token_id, now),
        )
        return changed == 1

    async def release(self, token_id: str) -> None:
        """The submission was refused before anything reached the API: the link may be submitted again."""
        await self.db.execute_count("UPDATE region_sessions SET used_at = NULL WHERE token_id = ?", (token_id,))

    async def started(self, token_id: str, job_local_id: int) -> None:
        await self.db.execute_count("UPDATE region_sessions SET job_local_id = ? WHERE token_id = ?",
                                    (job_local_id, token_id))
