"""A paid result is never lost to a deploy: the bot process is stopped (SIGTERM) or killed (SIGKILL) while Discord
stalls the upload of a finished job's result; after the restart the result is in the channel, with one submit."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from bot.legnext.simulator import running_simulator
from tests.fakediscord import FakeDiscord, FakeMessage
from tests.harness import FAST_DURATIONS, GUILD
from tests.test_restart import ensure_dead, start_bot, write_config

EDIT_ROUTE = r"/channels/\d+/messages/\d+$"


def is_result(m: FakeMessage) -> bool:
    return not m.ephemeral and bool(m.buttons()) and bool(m.attachments)


def owed_jobs(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, status FROM jobs WHERE delivered_at IS NULL").fetchall()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
async def test_stopped_during_a_stalled_upload_the_result_arrives_after_restart(
    tmp_path: Path, how: signal.Signals
) -> None:
    durations = dict(FAST_DURATIONS, diffusion=1.5)
    async with running_simulator(durations=durations) as sim, FakeDiscord(guild_id=GUILD) as fake:
        config = tmp_path / "config.toml"
        db = tmp_path / "bot.sqlite3"
        write_config(config, fake, sim.base_url, db)
        # no status edits while the job runs: the only edit of its message is the final result
        config.write_text(config.read_text().replace("status_edit_interval_s = 0", "status_edit_interval_s = 600"))
        proc = await start_bot(config, fake)
        try:
            inter = await fake.slash("imagine", options={"prompt": "a lighthouse in fog"})
            answer = await inter.wait_done(timeout=15)
            assert answer.content.startswith("Started: "), answer.content
            waiting = await fake.wait_message(lambda m: not m.ephemeral and "lighthouse" in m.content, timeout=15)
            stall = fake.inject_fault("PATCH", EDIT_ROUTE, status=None, hold_s=10, count=None)
            await fake.wait_for(lambda: stall.hits >= 1, timeout=15, what="the final upload to start")
            assert owed_jobs(db) == [(1, "completed")]
            stopped = time.monotonic()
            proc.send_signal(how)
            code = await asyncio.wait_for(proc.wait(), 15)
            assert code == (0 if how == signal.SIGTERM else -signal.SIGKILL)
            assert time.monotonic() - stopped < 12
        finally:
            await ensure_dead(proc)
        stall.remove()
        assert not is_result(fake.messages[waiting.id])
        assert owed_jobs(db) == [(1, "completed")], "the result is still owed"

        proc = await start_bot(config, fake)
        try:
            await fake.wait_for(lambda: is_result(fake.messages[waiting.id]), timeout=20, what="the result")
            assert "lighthouse" in fake.messages[waiting.id].content
            assert sim.count("POST", "/v1/diffusion") == 1
            await fake.wait_for(lambda: owed_jobs(db) == [], timeout=10, what="delivery recorded")
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 15) == 0
        finally:
            await ensure_dead(proc)
        # exactly one job message: nothing was posted twice
        shown = [m for m in fake.channel_messages(include_ephemeral=False) if "lighthouse" in m.content]
        assert [m.id for m in shown] == [waiting.id]
