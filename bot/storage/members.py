"""Each member's /settings defaults, a small JSON object per user."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.storage.database import Database


class SettingsRepo:
    """Each member's /settings defaults, a small JSON object per user."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: int) -> dict[str, Any]:
        row = await self.db.fetchone("SELECT settings_json FROM member_settings WHERE user_id = ?", (user_id,))
        return {} if row is None else dict(json.loads(row["settings_json"]))

    async def set(self, user_id: int, settings: dict[str, Any]) -> None:
        await self.db.execute(
            """INSERT INTO member_settings(user_id, settings_json, updated_at) VALUES (?, ?, ?)
               ON CONFLICT(user_id) DO UPDATE SET settings_json = excluded.settings_json,
               updated_at = excluded.updated_at""",
            (user_id, json.dumps(settings), time.time()),
        )

    async def update(self, user_id: int, **changes: Any) -> dict[str, Any]:
        current = await self.get(user_id)
        for key, value in changes.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        await self.set(user_id, current)
        return current
