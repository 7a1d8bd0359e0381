"""Nothing paid is lost or paid twice: checks before spending, delivery through Discord faults, honest answers,
time-outs that mean something (real bot, strict fake Discord, Legnext simulator)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.__main__ import app_context
from bot.client import MJBot
from bot.core.errors import user_message
from bot.core.media import DownloadFailed
from bot.legnext import errors as api
from bot.legnext.simulator import Simulator, running_simulator
from tests.fakediscord import FakeDiscord, FakeInteraction, FakeMessage, run_bot
from tests.harness import ALICE, BOB, CHANNEL, FAST_DURATIONS, GUILD, H, harness, make_settings

ALL = discord.Permissions.all().value
MESSAGE_ROUTE = r"/channels/\d+/messages"


def without(*names: str) -> int:
    perms = discord.Permissions.all()
    perms.administrator = False
    for name in names:
        setattr(perms, name, False)
    return perms.value


def submits(h: H, path: str = "/v1/") -> int:
    return sum(1 for r in h.sim.requests if r.method == "POST" and r.path.startswith(path))


async def answer(inter: FakeInteraction) -> str:
    return (await inter.wait_done()).content


async def grid(h: H, prompt: str = "a lighthouse") -> FakeMessage:
    inter = await h.imagine(prompt)
    assert (await answer(inter)).startswith("Started: ")
    return await h.result(lambda m: prompt in m.content and bool(m.buttons()))


def is_shown(m: FakeMessage | None) -> bool:
    return m is not None and not m.deleted and bool(m.attachments) and bool(m.buttons())


# ------------------------------------------------------------------------------------------ checks before spending

async def test_missing_channel_permissions_are_named_and_cost_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        for perm, name in (("attach_files", "Attach Files"), ("send_messages", "Send Messages"),
                           ("embed_links", "Embed Links")):
            h.fake.set_bot_permissions(CHANNEL, without(perm))
            inter = await h.imagine("a cat")
            text = await answer(inter)
            assert inter.ephemeral and f"**{name}**" in text, text
            assert "Nothing was started" in text
        assert submits(h) == 0
        assert h.fake.refusals == []  # the bot never even tried to post

        # a button press in a channel where the bot lost a permission after the grid was shown
        h.fake.set_bot_permissions(CHANNEL, None)
        msg = await grid(h)
        before = submits(h)
        h.fake.set_bot_permissions(CHANNEL, without("attach_files"))
        press = await h.fake.click(msg.id, "U1")
        text = await answer(press)
        assert press.ephemeral and "**Attach Files**" in text, text
        # replies (the results of buttons) need Read Message History
        h.fake.set_bot_permissions(CHANNEL, without("read_message_history"))
        press = await h.fake.click(msg.id, "V2")
        assert "**Read Message History**" in await answer(press)
        assert submits(h) == before


async def test_thread_needs_send_messages_in_threads(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        thread = 777_000_000_000_000_001
        h.fake.add_thread(thread, "art", parent_id=CHANNEL)
        h.fake.set_bot_permissions(thread, without("send_messages_in_threads"))
        inter = await h.fake.slash("imagine", options={"prompt": "a cat"}, channel_id=thread)
        text = await answer(inter)
        assert "**Send Messages in Threads**" in text, text
        assert submits(h) == 0
        h.fake.set_bot_permissions(thread, without("send_messages"))  # not needed in a thread
        inter = await h.fake.slash("imagine", options={"prompt": "a dog"}, channel_id=thread)
        assert (await answer(inter)).startswith("Started: ")
        await h.result(lambda m: "a dog" in m.content and m.channel_id == thread)


async def test_a_burst_of_commands_never_exceeds_the_running_limit(tmp_path: Path) -> None:
    async with harness(tmp_path, limits={"running_per_member": 3, "queued_per_member": 5}) as h:
        h.sim.keep_stuck()
        inters = await asyncio.gather(*[
            h.fake.slash("imagine", options={"prompt": f"cat number {i}"}) for i in range(30)])
        answers = await asyncio.gather(*[answer(i) for i in inters])
        started = [a for a in answers if a.startswith("Started: ")]
        queued = [a for a in answers if a.startswith("Queued (position ")]
        refused = [a for a in answers if "You already have 3 running and 5 waiting" in a]
        assert len(started) == submits(h, "/v1/diffusion") == 3
        assert len(queued) == 5 and len(refused) == 22, answers
        assert all(i.ephemeral for i in inters)


# ------------------------------------------------------------------------------------------ delivery

async def test_result_survives_a_20s_discord_outage_around_completion(tmp_path: Path) -> None:
    """Every message call answers 500 for 20 s, starting while the job runs: the result is shown once Discord
    recovers, with one submit."""
    async with harness(tmp_path, sim_kwargs={"durations": {"diffusion": 2.0}}) as h:
        inter = await h.imagine("a storm at sea")
        assert (await answer(inter)).startswith("Started: ")
        job = (await h.bot.jobs_repo.all())[-1]
        fault = h.fake.inject_fault("*", MESSAGE_ROUTE, status=500, count=None)
        started = time.monotonic()
        await asyncio.sleep(20)
        fault.remove()
        msg = await h.finished_job_message(job.id, wait_s=40)
        assert is_shown(msg) and "storm" in msg.content
        done = await h.bot.jobs_repo.get(job.id)
        assert done is not None and done.delivered_at is not None
        assert submits(h) == 1
        print(f"outage: {fault.hits} failed Discord calls, {done.delivery_attempts} delivery attempt(s), "
              f"shown {time.monotonic() - started:.1f}s after the outage began")


async def test_result_survives_20s_of_429(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs={"durations": {"diffusion": 2.0}}) as h:
        inter = await h.imagine("a quiet harbour")
        assert (await answer(inter)).startswith("Started: ")
        job = (await h.bot.jobs_repo.all())[-1]
        fault = h.fake.inject_fault("*", MESSAGE_ROUTE, status=429, retry_after=2.0, count=None)
        await asyncio.sleep(20)
        fault.remove()
        msg = await h.finished_job_message(job.id, wait_s=30)
        assert is_shown(msg) and "harbour" in msg.content
        assert submits(h) == 1


async def test_too_large_to_upload_shows_links(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.fake.attachment_size_limit = 100  # the simulator's PNGs are larger
        inter = await h.imagine("a tiny boat")
        assert (await answer(inter)).startswith("Started: ")
        msg = await h.result(lambda m: "tiny boat" in m.content and bool(m.buttons()))
        job = (await h.bot.jobs_repo.all())[-1]
        assert msg.attachments == []
        assert job.output is not None and msg.embeds[0]["image"]["url"] == job.output["image_url"]
        assert any(r.status == 413 for r in h.fake.refusals)
        assert submits(h) == 1


async def test_lost_attach_files_during_the_job_shows_links(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs={"durations": {"diffusion": 1.0}}) as h:
        inter = await h.imagine("a red kite")
        assert (await answer(inter)).startswith("Started: ")
        h.fake.set_bot_permissions(CHANNEL, without("attach_files"))
        msg = await h.result(lambda m: "red kite" in m.content and bool(m.buttons()))
        assert msg.attachments == [] and msg.embeds[0]["image"]["url"].startswith("http")


async def test_a_deleted_channel_is_given_up_and_counted(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs={"durations": {"diffusion": 1.0}}) as h:
        side = 777_000_000_000_000_002
        h.fake.add_channel(side, "side")
        inter = await h.fake.slash("imagine", options={"prompt": "a moth"}, channel_id=side)
        assert (await answer(inter)).startswith("Started: ")
        job = (await h.bot.jobs_repo.all())[-1]
        h.fake.delete_channel(side)

        async def given_up() -> bool:
            j = await h.bot.jobs_repo.get(job.id)
            return j is not None and j.undeliverable is not None
        await h.fake.wait_for(given_up, timeout=15)
        assert await h.bot.jobs_repo.undeliverable_count() == 1
        assert h.bot.metrics.given_up == 1
        assert await h.bot.jobs_repo.owed() == []


# ------------------------------------------------------------------------------------------ honest answers

async def test_unknown_outcome_is_public_and_a_repress_needs_confirmation(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await grid(h)
        h.sim.inject_error(500, count=1, path="/v1/upscale", create_job=True)
        press = await h.fake.click(msg.id, "U2")
        text = await answer(press)
        assert text == user_message(api.SubmitOutcomeUnknown()), text
        assert "try again" not in text.lower()
        public = await h.fake.wait_message(lambda m: not m.ephemeral and "outcome is unknown" in m.text())
        assert "may have been charged" in public.text()
        assert submits(h, "/v1/upscale") == 1

        again = await h.fake.click(msg.id, "U2")
        text = await answer(again)
        assert "charged twice" in text and again.ephemeral
        assert submits(h, "/v1/upscale") == 1
        confirm_msg = again.last_message
        assert confirm_msg is not None
        confirm = await h.fake.click(confirm_msg.id, "Run it again (may be charged twice)")
        assert (await answer(confirm)).startswith("Started: ")
        assert submits(h, "/v1/upscale") == 2
        await h.result(lambda m: "Image #2" in m.content and bool(m.buttons()))


async def test_no_try_again_when_the_job_message_cannot_be_posted(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs={"durations": {"diffusion": 1.0}}) as h:
        h.fake.inject_fault("POST", MESSAGE_ROUTE + "$", status=403, code=50013, count=1)
        inter = await h.imagine("a lantern")
        text = await answer(inter)
        assert text.startswith("Started: ") and "try again" not in text.lower(), text
        msg = await h.result(lambda m: "lantern" in m.content and bool(m.buttons()))
        assert is_shown(msg)
        assert submits(h) == 1


async def test_moderators_are_said_to_be_told_only_with_an_alert_channel(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs={"balance": 10}) as h:
        text = await answer(await h.imagine("a cat"))
        assert "out" in text and "moderators have been told" not in text and "tell a moderator" in text


# ------------------------------------------------------------------------------------------ time-outs and reads

async def test_jobs_queued_at_the_api_are_not_timed_out(tmp_path: Path) -> None:
    async with harness(tmp_path, jobs={"timeout_image_s": 1.0}, limits={"running_per_member": 50}) as h:
        h.sim.max_concurrent = 2
        inters = []
        for i in range(30):
            inters.append(await h.fake.slash("imagine", options={"prompt": f"queued bird {i}"},
                                             user_id=ALICE if i % 2 else BOB))
        for inter in inters:
            assert (await answer(inter)).startswith("Started: ")

        async def all_done() -> bool:
            jobs = await h.bot.jobs_repo.all()
            return len(jobs) == 30 and all(j.finished for j in jobs)
        await h.fake.wait_for(all_done, timeout=40)
        jobs = await h.bot.jobs_repo.all()
        assert [j.status for j in jobs] == ["completed"] * 30, [j.error for j in jobs if j.status != "completed"]


async def test_one_404_on_a_status_read_does_not_fail_the_job(tmp_path: Path) -> None:
    async with harness(tmp_path, legnext={"read_retries": 0}) as h:
        h.sim.inject_error(404, count=1, method="GET", path="/v1/job/")
        inter = await h.imagine("a fern")
        assert (await answer(inter)).startswith("Started: ")
        msg = await h.result(lambda m: "fern" in m.content)
        assert is_shown(msg)
        (job,) = await h.bot.jobs_repo.all()
        assert job.status == "completed"


async def test_api_error_text_is_cleaned_before_it_is_shown(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.fail_next_job("task failed", raw_message=(
            "bad \u202eimage <@555> @everyone key=sk_live_0123456789abcdefghijklmnopqrstuv. Second sentence."))
        inter = await h.imagine("a \u202ereversed\u202c cat")
        assert (await answer(inter)).startswith("Started: ")
        msg = await h.result(lambda m: "This job failed" in m.text())
        shown = msg.text()
        for bad in ("\u202e", "\u202c", "<@555>", "@everyone", "sk_live", "Second sentence"):
            assert bad not in shown, (bad, shown)
        assert "bad image" in shown and "reversed cat" in msg.content


# ------------------------------------------------------------------------------------------ two lives of the bot

@contextlib.asynccontextmanager
async def one_life(sim: Simulator, fake: FakeDiscord, db: Path) -> AsyncIterator[MJBot]:
    async with app_context(make_settings(sim, fake, db)) as bot, run_bot(bot, fake, token="fake-discord-token-123456"):
        yield bot


async def test_a_message_posted_just_before_a_crash_is_found_not_posted_again(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with running_simulator(durations=dict(FAST_DURATIONS)) as sim, FakeDiscord(
            guild_id=GUILD, channel_id=CHANNEL) as fake:
        sim.keep_stuck()
        async with one_life(sim, fake, db) as bot:
            inter = await fake.slash("imagine", options={"prompt": "an orphan owl"})
            assert (await answer(inter)).startswith("Started: ")
            (job,) = await bot.jobs_repo.all()
            assert job.message_id is not None and job.posting_at is not None
            # the crash came between Discord accepting the post and the bot recording its id
            await bot.jobs_repo.update(job.id, message_id=None)
        assert job.job_id is not None
        sim.complete_now(job.job_id)
        async with one_life(sim, fake, db) as bot:
            async def delivered() -> bool:
                j = await bot.jobs_repo.get(job.id)
                return j is not None and j.delivered_at is not None
            await fake.wait_for(delivered, timeout=10)
        shown = [m for m in fake.channel_messages(include_ephemeral=False) if "orphan owl" in m.content]
        assert [m.id for m in shown] == [job.message_id] and is_shown(shown[0])


async def test_thinking_left_by_a_restart_is_resolved(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with running_simulator(durations=dict(FAST_DURATIONS)) as sim, FakeDiscord(
            guild_id=GUILD, channel_id=CHANNEL) as fake:
        sim.keep_stuck()
        async with one_life(sim, fake, db) as bot:
            # the answer to the member is lost (as if the bot died right before sending it)
            lost = fake.inject_fault("POST", r"/webhooks/\d+/[^/]+$", status=404, code=10015, count=1)
            inter = await fake.slash("imagine", options={"prompt": "a patient heron"})
            await fake.wait_for(lambda: lost.hits == 1, timeout=10)
            await fake.wait_message(lambda m: "patient heron" in m.content and not m.ephemeral)
            assert inter.message is not None and inter.message.loading
            (job,) = await bot.jobs_repo.all()
            assert job.ack_token is not None
        async with one_life(sim, fake, db) as bot:
            done = await inter.wait_done()
            assert done.ephemeral and done.content.startswith("Started: https://discord.com/channels/"), done
            assert (await bot.jobs_repo.unacknowledged()) == []
        assert sim.count("POST", "/v1/diffusion") == 1


# ------------------------------------------------------------------------------------------ found by review

async def test_one_failed_download_does_not_turn_the_result_into_links_for_good(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.ui.presenter as presenter_module

    real, calls = presenter_module.download, {"n": 0}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise DownloadFailed("downloading the result failed (ReadTimeout)")
        return await real(*args, **kwargs)

    monkeypatch.setattr(presenter_module, "download", flaky)
    async with harness(tmp_path) as h:
        assert (await answer(await h.imagine("a paper crane"))).startswith("Started: ")
        msg = await h.result(lambda m: "paper crane" in m.content and bool(m.buttons()))
        assert msg.attachments, "a transient download failure is retried, not shown as expiring links"


async def test_a_job_the_bot_lost_contact_with_is_unknown_and_a_repress_needs_confirmation(tmp_path: Path) -> None:
    async with harness(tmp_path, jobs={"read_failure_limit_s": 1.0}, legnext={"read_retries": 0}) as h:
        msg = await grid(h)
        h.sim.inject_error(500, count=100000, method="GET", path="/v1/job/")
        assert (await answer(await h.fake.click(msg.id, "U1"))).startswith("Started: ")
        lost = await h.fake.wait_message(
            lambda m: not m.ephemeral and "could not reach Legnext" in m.text(), timeout=20)
        assert "outcome is unknown" in lost.text()
        h.sim._injections.clear()
        again = await h.fake.click(msg.id, "U1")
        assert "charged twice" in await answer(again)
        assert submits(h, "/v1/upscale") == 1
