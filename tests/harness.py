"""End-to-end harness: the Legnext simulator, the fake Discord, and the real bot built by `bot.__main__.app_context`
(the same code path as `python -m bot`), all on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.__main__ import app_context
from bot.client import MJBot
from bot.config import Settings
from bot.legnext.simulator import Simulator, running_simulator
from tests.fakediscord import FakeDiscord, FakeInteraction, FakeMessage, run_bot

GUILD = 111
CHANNEL = 222
ALICE = 444
BOB = 555

# Fast jobs: every task takes a fraction of a second in the simulator; the tracker polls often.
FAST_DURATIONS = {k: 0.4 for k in (
    "diffusion", "variation", "upscale", "reroll", "blend", "describe", "shorten", "pan", "outpaint", "inpaint",
    "remix", "edit", "upload_paint", "retexture", "remove_background", "enhance", "video_diffusion",
    "extend_video", "video_upscale", "enhance_upscale")}
FAST_JOBS = {"poll_min_s": 0.05, "poll_max_s": 0.15, "status_edit_interval_s": 0.0}


def make_settings(sim: Simulator, fake: FakeDiscord, db: Path, **sections: dict[str, Any]) -> Settings:
    data: dict[str, Any] = {
        "discord": {"token": "fake-discord-token-123456", "guild_ids": [GUILD], "api_base_url": fake.api_base,
                    "gateway_url": fake.gateway_url, "guild_ready_timeout_s": 0.1},
        "legnext": {"api_key": "sim-api-key-abcdef", "base_url": sim.base_url, "timeout_s": 5, "read_retries": 3,
                    # many jobs run at once in most tests; the queue's own tests set the real default (6) or less
                    "concurrency": 50},
        "storage": {"database": str(db)},
        "jobs": dict(FAST_JOBS),
        "moderation": {},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings(**data)


@dataclass
class H:
    sim: Simulator
    fake: FakeDiscord
    bot: MJBot
    db_path: Path

    async def imagine(self, prompt: str, user_id: int = ALICE) -> FakeInteraction:
        inter = await self.fake.slash("imagine", options={"prompt": prompt}, user_id=user_id)
        await inter.wait_response()
        return inter

    async def result(self, predicate: Any = None, wait_s: float = 10.0) -> FakeMessage:
        """The next job message that shows a finished result (buttons or a failure embed)."""
        def done(m: FakeMessage) -> bool:
            finished = bool(m.buttons()) or any(e.get("title", "").startswith("This job") for e in m.embeds) or (
                bool(m.attachments) and not m.ephemeral)
            return finished and not m.ephemeral and (predicate is None or predicate(m))
        return await self.fake.wait_message(done, timeout=wait_s)

    async def finished_job_message(self, job_local_id: int, wait_s: float = 10.0) -> FakeMessage:
        async def ready() -> Any:
            job = await self.bot.jobs_repo.get(job_local_id)
            return job if job is not None and job.finished and job.delivered_at is not None else None
        job = await self.fake.wait_for(ready, timeout=wait_s)
        return self.fake.messages[job.message_id]


@contextlib.asynccontextmanager
async def harness(tmp_path: Path, *, sim_kwargs: dict[str, Any] | None = None,
                  **sections: dict[str, Any]) -> AsyncIterator[H]:
    kwargs: dict[str, Any] = {"durations": dict(FAST_DURATIONS)}
    kwargs.update(sim_kwargs or {})
    async with running_simulator(**kwargs) as sim, FakeDiscord(guild_id=GUILD, channel_id=CHANNEL) as fake:
        db = tmp_path / "bot.sqlite3"
        settings = make_settings(sim, fake, db, **sections)
        async with app_context(settings) as bot, run_bot(bot, fake, token="fake-discord-token-123456"):
            yield H(sim, fake, bot, db)
        fake.assert_clean()
