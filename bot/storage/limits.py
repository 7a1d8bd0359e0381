"""Each server's own limits, as moderators set them with /limits (only the keys they changed)."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.storage.database import Database


class LimitsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, guild_id: int | None) -> dict[str, Any]:
        if guild_id is None:
            return {}
        row = await self.db.fetchone("SELECT limits_json FROM guild_limits WHERE guild_id = ?", (guild_id,))
        return {} if row is None else dict(json.loads(row["limits_json"]))

    async def update(self, guild_id: int, changes: dict[str, Any], by: int) -> dict[str, Any]:
        """Merge `changes` into the server's stored limits (one statement: two moderators at once both land)."""
        current = await self.get(guild_id)
        current.update(changes)
        await self.db.execute(
            """INSERT INTO guild_limits(guild_id, limits_json, updated_by, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT(guild_id) DO UPDATE SET limits_json = json_patch(guild_limits.limits_json, ?),
               updated_by = excluded.updated_by, updated_at = excluded.updated_at""",
            (guild_id, json.dumps(current), by, time.time(), json.dumps(changes)),
        )
        return await self.get(guild_id)
