"""Nothing is lost: the bot process is SIGKILLed while a job runs, started again, and the job still finishes;
buttons on messages rendered before the kill still work."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.legnext.simulator import running_simulator
from tests.fakediscord import FakeDiscord, FakeMessage
from tests.harness import FAST_DURATIONS, GUILD

ROOT = Path(__file__).resolve().parent.parent


def write_config(path: Path, fake: FakeDiscord, sim_url: str, db: Path) -> None:
    path.write_text(
        f"""
[discord]
token = "restart-test-token-0001"
guild_ids = [{GUILD}]
api_base_url = "{fake.api_base}"
gateway_url = "{fake.gateway_url}"
guild_ready_timeout_s = 0.1

[legnext]
api_key = "restart-test-key-0002"
base_url = "{sim_url}"
timeout_s = 5

[storage]
database = "{db}"

[jobs]
poll_min_s = 0.05
poll_max_s = 0.2
status_edit_interval_s = 0
""",
        encoding="utf-8",
    )


async def start_bot(config: Path, fake: FakeDiscord) -> asyncio.subprocess.Process:
    identified = fake.identify_count
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "LEGNEXT_API_KEY")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )

    async def ready() -> bool:
        if proc.returncode is not None:
            err = (await proc.stderr.read()).decode() if proc.stderr else ""
            raise AssertionError(f"bot exited early with {proc.returncode}: {err}")
        return fake.identify_count > identified and GUILD in fake.registered_commands
    await fake.wait_for(ready, timeout=20)
    await asyncio.sleep(0.3)  # READY and GUILD_CREATE processed
    return proc


async def ensure_dead(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def is_result(m: FakeMessage) -> bool:
    return not m.ephemeral and bool(m.buttons()) and bool(m.attachments)


async def test_sigkill_mid_job_then_restart_finishes_it_and_old_buttons_work(tmp_path: Path) -> None:
    durations = dict(FAST_DURATIONS)
    async with running_simulator(durations=durations) as sim, FakeDiscord(guild_id=GUILD) as fake:
        config = tmp_path / "config.toml"
        write_config(config, fake, sim.base_url, tmp_path / "bot.sqlite3")
        proc = await start_bot(config, fake)
        try:
            # 1. a finished grid, rendered before the kill
            await fake.slash("imagine", options={"prompt": "a lighthouse at dusk"})
            grid = await fake.wait_message(lambda m: is_result(m) and "lighthouse" in m.content, timeout=15)

            # 2. a job that is still running when the process dies
            sim.keep_stuck()
            await fake.slash("imagine", options={"prompt": "a ship in a storm"})
            waiting = await fake.wait_message(
                lambda m: not m.ephemeral and "ship" in m.content
                and ("(Waiting to start)" in m.content or "(Running" in m.content), timeout=15)
            running_jobs = [j for j in sim.jobs.values() if "ship" in j.prompt]
            assert len(running_jobs) == 1

            proc.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL
        finally:
            await ensure_dead(proc)

        # while the bot is down the job finishes at the API
        sim.complete_now(running_jobs[0].job_id)
        submits_before = sim.count("POST")

        proc = await start_bot(config, fake)
        try:
            # the job's result still arrives, in the message that showed it waiting
            done = await fake.wait_for(lambda: is_result(fake.messages[waiting.id]), timeout=15)
            assert done
            assert "ship" in fake.messages[waiting.id].content
            assert sim.count("POST") == submits_before, "nothing may be resubmitted after a restart"

            # a button on a message rendered before the kill still works
            click = await fake.click(grid.id, "U1")
            await click.wait_response()
            upscale = await fake.wait_message(
                lambda m: is_result(m) and m.message_reference is not None
                and m.message_reference.get("message_id") in (grid.id, str(grid.id)), timeout=15)
            assert "Image #1" in upscale.content
            posts = [r for r in sim.requests if r.method == "POST" and r.path == "/v1/upscale"]
            assert len(posts) == 1 and posts[0].json["imageNo"] == 0

            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 15) == 0
        finally:
            await ensure_dead(proc)
        fake.assert_clean()


async def test_job_recorded_but_unanswered_at_crash_is_marked_unknown_not_resubmitted(tmp_path: Path) -> None:
    """A crash between recording a job and the API's answer: on restart the job is shown as 'outcome unknown'
    and never sent again."""
    async with running_simulator(durations=dict(FAST_DURATIONS)) as sim, FakeDiscord(guild_id=GUILD) as fake:
        config = tmp_path / "config.toml"
        write_config(config, fake, sim.base_url, tmp_path / "bot.sqlite3")
        proc = await start_bot(config, fake)
        try:
            sim.hang_next_submit(30.0, create_job=True)
            await fake.slash("imagine", options={"prompt": "a hanging submit"})
            await fake.wait_for(lambda: sim.count("POST", "/v1/diffusion") == 1, timeout=10)
            await asyncio.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)
        finally:
            await ensure_dead(proc)
        proc = await start_bot(config, fake)
        try:
            await asyncio.sleep(0.5)
            assert sim.count("POST", "/v1/diffusion") == 1
            import sqlite3

            with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
                rows = conn.execute("SELECT status, error FROM jobs").fetchall()
            assert rows and rows[0][0] == "unknown", rows
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 15) == 0
        finally:
            await ensure_dead(proc)
