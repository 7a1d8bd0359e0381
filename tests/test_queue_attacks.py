"""A hostile look at budgets, limits and the fair queue (issue 10): races, stalls, forged buttons, unicode tricks and
an old database. Each test names the behaviour it expects; a failing one is a defect in the lead's code."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import app_context
from bot.core.launcher import Launcher
from bot.core.limits import banned_word_in
from bot.legnext.simulator import running_simulator
from bot.storage.database import Database
from bot.storage.jobs import Budget, BudgetReached, JobRepo
from bot.vocabulary import JobStatus
from tests.fakediscord import FakeDiscord, run_bot
from tests.harness import ALICE, BOB, CHANNEL, FAST_DURATIONS, GUILD, H, harness, make_settings
from tests.test_buttons_e2e import grid
from tests.test_chatbox_abuse import press_forged
from tests.test_queue_limits_e2e import MOD, SLOW, add_moderator, answer, imagine, link_id, sim_job_of, submits

SLOW_UPSCALE = {"durations": {**FAST_DURATIONS, "upscale": 600.0}}


async def job_of(h: H, prompt: str) -> Any:
    for job in await h.bot.jobs_repo.all():
        if job.prompt.startswith(prompt):
            return job
    raise AssertionError(f"no job for {prompt!r}")


# ------------------------------------------------------------------------------------------------ the queue's loop


async def test_the_idle_queue_loop_does_not_spin(tmp_path: Path) -> None:
    """`_run_queue` should look at the queue on a wake and every QUEUE_TICK_S (5 s), not 20 times a second."""
    async with harness(tmp_path) as h:
        repo = h.bot.launcher.repo
        calls = 0
        original = repo.queued

        async def counting() -> Any:
            nonlocal calls
            calls += 1
            return await original()

        repo.queued = counting  # type: ignore[method-assign]
        await asyncio.sleep(1.0)  # nothing happens: no job, no wake
        repo.queued = original  # type: ignore[method-assign]
        # one pump reads the queue twice (_dispatch and _positions); a 5 s tick allows at most one pump here
        assert calls <= 2, f"the idle queue was read {calls} times in one second"


async def test_a_huge_retry_after_does_not_stall_the_queue_for_hours(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.inject_error(429, "too many concurrent jobs", path="/v1/diffusion", retry_after=7200)
        text = await imagine(h, "a patient cat")
        assert text.startswith("Queued"), text
        pause = h.bot.launcher._not_before - time.monotonic()
        assert pause <= 120, f"one 429 stopped the whole queue for {pause / 3600:.1f} hours"


# ------------------------------------------------------------------------------------------------ Cancel


async def test_a_cancelled_queued_upscale_can_be_pressed_again(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs=SLOW_UPSCALE, legnext={"concurrency": 1}) as h:
        g_msg, _ = await grid(h, "a lighthouse")
        assert (await answer(await h.fake.click(g_msg.id, "U2", user_id=ALICE))).startswith("Started")
        queued = await answer(await h.fake.click(g_msg.id, "U1", user_id=ALICE))
        assert queued.startswith("Queued"), queued
        assert "Cancelled" in await answer(await h.fake.click(link_id(queued), "Cancel", user_id=ALICE))
        again = await answer(await h.fake.click(g_msg.id, "U1", user_id=ALICE))
        # a cancelled job cost nothing and was never sent: pressing U1 again must queue a new upscale
        assert again.startswith("Queued"), again


async def test_forged_cancel_buttons_are_answered_politely(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        add_moderator(h)
        assert (await imagine(h, "first owl")).startswith("Started")
        msg = h.fake.messages[link_id(await imagine(h, "second owl"))]
        # another server's queued job (recorded directly: this fake Discord has one server)
        other = await h.bot.jobs_repo.create(task_type="diffusion", action="imagine", requester_id=BOB,
                                             prompt="other server's owl", request={"text": "other server's owl"},
                                             guild_id=GUILD + 1, channel_id=CHANNEL + 1, status=JobStatus.QUEUED)

        async def press(custom_id: str, user_id: int) -> str:
            return await answer(await press_forged(h, msg, custom_id, user_id))

        text = await press(f"mj:v1:cancel:q{other.id}:0", MOD)  # a moderator here is no moderator there
        assert "no job behind that button" in text, text
        assert (await h.bot.jobs_repo.get(other.id)).status == JobStatus.QUEUED  # type: ignore[union-attr]
        text = await press("mj:v1:cancel:q2:0", BOB)  # Alice's, on another message
        assert "Only the member who queued this job, or a moderator" in text, text
        for cid in ("mj:v1:cancel:2:0", "mj:v1:cancel:q:0", "mj:v1:cancel:qx1:0", "mj:v1:cancel:q0:0"):
            text = await press(cid, ALICE)
            assert "no longer supported" in text or "no job behind that button" in text, (cid, text)
        assert (await job_of(h, "second owl")).status == JobStatus.QUEUED


async def test_a_cancel_button_naming_a_number_sqlite_cannot_hold_is_answered_politely(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        assert (await imagine(h, "first owl")).startswith("Started")
        msg = h.fake.messages[link_id(await imagine(h, "second owl"))]
        # custom_ids allow 63 digits; SQLite integers stop at 2**63 - 1 (19 digits): no internal error, no ERROR log
        text = await answer(await press_forged(h, msg, "mj:v1:cancel:q" + "9" * 40 + ":0", ALICE))
        assert "no job behind that button" in text or "no longer supported" in text, text


async def test_stopping_the_bot_lets_a_queued_submit_in_flight_finish(tmp_path: Path) -> None:
    """At shutdown the queue's submit under way is cancelled: the API made (and billed) the job, the bot records
    "outcome unknown" without its id, so its result is lost. Delivery gets `shutdown_grace_s`; a submit could too."""
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        assert (await imagine(h, "first swan")).startswith("Started")
        assert (await imagine(h, "second swan")).startswith("Queued")
        h.sim.hang_next_submit(1.0, create_job=True)  # the API makes the job, its answer is 1 s late
        h.sim.complete_now(await sim_job_of(h, "first swan"))
        await h.fake.wait_for(lambda: len(h.sim.jobs) >= 2 or None)
        await h.bot.launcher.stop_queue(h.bot.settings.jobs.shutdown_grace_s)  # what MJBot.close() does first
        job = await job_of(h, "second swan")
        assert job.job_id is not None, f"the API made the job, the bot recorded {job.status}: {job.error}"


async def test_a_queued_job_whose_message_failed_to_post_gets_one_with_its_cancel_button(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        assert (await imagine(h, "first heron")).startswith("Started")
        fault = h.fake.inject_fault("POST", rf"^/channels/{CHANNEL}/messages$", status=503, count=1)
        text = await imagine(h, "second heron")
        assert text.startswith("Queued") and "will appear in this channel" in text, text
        assert fault.hits == 1
        for _ in range(20):  # the queue's turns (ends, cancels, ticks)
            await h.bot.launcher.pump()
            await asyncio.sleep(0.25)
            job = await job_of(h, "second heron")
            if job.message_id is not None:
                break
        assert job.status == JobStatus.QUEUED
        # while it waits (maybe for hours), the member must be able to see it and cancel it
        assert job.message_id is not None, "the queued job never got its message (nor a Cancel button)"
        assert h.fake.messages[job.message_id].labels() == ["Cancel"]


# ------------------------------------------------------------------------------------------------ stalls


async def test_other_messages_position_edits_do_not_hold_up_a_members_answer(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        assert (await imagine(h, "alice 1")).startswith("Started")
        assert (await imagine(h, "alice 2")).startswith("Queued (position 1)")
        assert (await imagine(h, "alice 3")).startswith("Queued (position 2)")
        # Discord is slow to take edits (its per-channel rate limit, a slow gateway...)
        fault = h.fake.inject_fault("PATCH", rf"^/channels/{CHANNEL}/messages/\d+$", status=None, count=2,
                                    hold_s=4.0)
        inter = await h.fake.slash("imagine", options={"prompt": "bob 1"}, user_id=BOB)
        started = time.monotonic()
        try:
            done = await asyncio.wait_for(inter.wait_done(), timeout=3.0)
        except TimeoutError:
            done = None
        waited = time.monotonic() - started
        await inter.wait_done()  # let the held edits through before the harness closes
        fault.remove()
        assert done is not None, f"Bob's /imagine waited {waited:.1f}s for edits of Alice's messages"


# ------------------------------------------------------------------------------------------------ shutdown, restart


async def test_a_job_the_queue_claimed_at_shutdown_is_sent_after_the_restart(tmp_path: Path) -> None:
    """A job the queue took but never sent (the bot stopped first) must go back to the queue, not become an
    "outcome unknown" that holds its points and is never sent."""
    db = tmp_path / "bot.sqlite3"
    sections: dict[str, Any] = {"legnext": {"concurrency": 1}, "limits": {"member_daily_points": 160}}
    async with running_simulator(**SLOW) as sim, FakeDiscord(guild_id=GUILD, channel_id=CHANNEL) as fake:
        async with app_context(make_settings(sim, fake, db, **sections)) as bot, run_bot(
                bot, fake, token="fake-discord-token-123456"):
            h = H(sim, fake, bot, db)
            assert (await imagine(h, "running crane")).startswith("Started")
            assert (await imagine(h, "waiting crane")).startswith("Queued")
            launcher: Launcher = bot.launcher
            await launcher.stop_queue()  # shutting down: the queue's loop is stopped first ...
            sim.complete_now(await sim_job_of(h, "running crane"))

            async def ended() -> bool:
                return bool((await job_of(h, "running crane")).finished)
            await fake.wait_for(ended)
            await launcher._dispatch()  # ... just after it released the next job ...
            await launcher.stop_queue()  # ... and its sending task is cancelled before it ran
            assert len(submits(h)) == 1
        async with app_context(make_settings(sim, fake, db, **sections)) as bot, run_bot(
                bot, fake, token="fake-discord-token-123456"):
            h = H(sim, fake, bot, db)

            async def settled() -> Any:
                job = await job_of(h, "waiting crane")
                return job if job.status not in (JobStatus.QUEUED, JobStatus.SUBMITTING) else None
            job = await fake.wait_for(settled, timeout=5)
            assert job.status != JobStatus.UNKNOWN, f"never sent, yet shown as {job.status}: {job.error}"
            assert len(submits(h)) == 2
        fake.assert_clean()


# ------------------------------------------------------------------------------------------------ banned words


@pytest.mark.parametrize("text", [
    "go\u034fre",  # COMBINING GRAPHEME JOINER: invisible, a mark with combining class 0
    "gor\ufe0fe",  # VARIATION SELECTOR-16: invisible
    "g\U000e0100ore",  # VARIATION SELECTOR-17
])
def test_invisible_marks_do_not_hide_a_banned_word(text: str) -> None:
    assert banned_word_in(["gore"], [text]) == "gore"


@pytest.mark.parametrize("text", [
    "g\u043ere",  # Cyrillic o
    "gor\u0435",  # Cyrillic e
    "\u0261ore",  # Latin script g
])
def test_lookalike_letters_do_not_hide_a_banned_word(text: str) -> None:
    assert banned_word_in(["gore"], [text]) == "gore"


@pytest.mark.parametrize(("word", "text"), [
    ("血", "赤い血の月"),  # Japanese: a red moon of blood, no spaces between words
    ("血腥", "一个血腥的场面"),  # Chinese: a gory scene
])
def test_a_banned_word_is_found_in_a_language_written_without_spaces(word: str, text: str) -> None:
    assert banned_word_in([word], [text]) == word


# ------------------------------------------------------------------------------------------------ storage


async def test_a_refusal_that_races_a_job_ending_names_the_limit_that_refused_it(tmp_path: Path) -> None:
    """The member's budget refuses the INSERT; before the reason is looked up, one of their jobs fails (its points
    come back). The refusal must not become "this server's daily limit of 0 points": the job is recorded after all
    (nothing holds it back any more), or refused naming a limit that is set."""
    async with Database(tmp_path / "t.sqlite3") as db:
        repo = JobRepo(db)
        budget = Budget(points=80, since=0.0, member_daily=100)
        first = await repo.create(task_type="diffusion", action="imagine", requester_id=1, guild_id=5,
                                  budget=budget, status=JobStatus.QUEUED)
        insert = db.execute_if

        async def insert_then_the_first_job_fails(sql: str, params: tuple[Any, ...] = ()) -> int | None:
            rowid = await insert(sql, params)
            await repo.update(first.id, status=JobStatus.FAILED, finished_at=time.time())
            return rowid

        db.execute_if = insert_then_the_first_job_fails  # type: ignore[method-assign]
        try:
            job = await repo.create(task_type="diffusion", action="imagine", requester_id=1, guild_id=5,
                                    budget=budget)
        except BudgetReached as e:
            assert e.limit != 0, f"refused by a limit of 0 ({e.whose}): no such limit is set"
        else:
            assert job.reserved_points == 80
            assert (await repo.spent(since=0.0, guild_id=5, member_id=1)).points == 80


async def test_claim_and_cancel_at_once_one_wins(tmp_path: Path) -> None:
    async with Database(tmp_path / "t.sqlite3") as db:
        repo = JobRepo(db)
        for _ in range(20):
            job = await repo.create(task_type="diffusion", action="imagine", requester_id=1, guild_id=5,
                                    status=JobStatus.QUEUED)
            claimed, cancelled = await asyncio.gather(repo.claim(job.id), repo.cancel(job.id, 1))
            assert (claimed is None) != (cancelled is None)
            final = await repo.get(job.id)
            assert final is not None and final.status in (JobStatus.SUBMITTING, JobStatus.CANCELLED)


async def test_the_migration_keeps_old_rows_and_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    scripts = sorted((p for p in resources.files("bot.storage.migrations").iterdir() if p.name.endswith(".sql")),
                     key=lambda p: p.name)
    con = sqlite3.connect(path)
    for script in scripts[:2]:  # the database as the release before issue 10 left it
        con.executescript(script.read_text())
    con.execute("PRAGMA user_version = 2")
    now = time.time()
    rows = [("g1", "completed", 0, 80, now), ("g2", "pending", 80, 0, now), ("g3", "failed", 0, 0, now),
            (None, "submitting", 0, 0, now), ("g4", "completed", 0, 120, now - 3 * 86400)]
    for job_id, status, frozen, consumed, at in rows:
        con.execute(
            "INSERT INTO jobs(job_id, task_type, action, requester_id, guild_id, status, frozen_points,"
            " consumed_points, created_at, updated_at) VALUES (?, 'diffusion', 'imagine', 1, 5, ?, ?, ?, ?, ?)",
            (job_id, status, frozen, consumed, at, at))
    con.commit()
    con.close()
    async with Database(path) as db:
        repo = JobRepo(db)
        assert await repo.queued() == []
        assert {j.status for j in await repo.unfinished()} == {"pending", "submitting"}
        today = now - now % 86400
        assert (await repo.spent(since=today, guild_id=5, member_id=1)).points == 160  # 80 consumed + 80 frozen
        assert (await repo.spent(since=0.0, guild_id=5)).points == 280
        with pytest.raises(BudgetReached):
            await repo.create(task_type="diffusion", action="imagine", requester_id=1, guild_id=5,
                              budget=Budget(points=80, since=today, member_daily=200))


# ------------------------------------------------------------------------------------------------ /usage


async def test_a_moderator_can_see_the_usage_of_a_member_who_left(tmp_path: Path) -> None:
    """Discord lets a user option name someone no longer in the server (their id pasted): it arrives as a user,
    not a member. Their spend is still in the ledger."""
    async with harness(tmp_path) as h:
        add_moderator(h)
        gone = 888
        h.fake.add_user(gone, "gone")
        text = await answer(await h.fake.slash("usage", options={"member": gone}, user_id=MOD))
        assert f"<@{gone}>'s usage" in text, text
