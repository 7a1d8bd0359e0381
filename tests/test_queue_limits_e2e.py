"""Budgets, limits and the fair queue end to end: members and moderators typing commands and pressing buttons in the
fake Discord, the real bot, the Legnext simulator counting what it received."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import discord

from bot.legnext.simulator import RecordedRequest
from tests.fakediscord import FakeInteraction
from tests.harness import ALICE, BOB, CHANNEL, FAST_DURATIONS, GUILD, H, harness
from tests.test_buttons_e2e import click, grid, modal_inputs, toggle_setting

MOD = 777
SLOW = {"durations": {**FAST_DURATIONS, "diffusion": 600.0}}  # jobs run until the test completes them


def submits(h: H, path: str = "/v1/diffusion") -> list[RecordedRequest]:
    return [r for r in h.sim.requests if r.method == "POST" and r.path == path]


async def answer(inter: FakeInteraction) -> str:
    done = await inter.wait_done()
    assert done.ephemeral, done
    return done.content


async def imagine(h: H, prompt: str, user_id: int = ALICE) -> str:
    return await answer(await h.fake.slash("imagine", options={"prompt": prompt}, user_id=user_id))


def link_id(text: str) -> int:
    m = re.search(rf"https://discord\.com/channels/{GUILD}/{CHANNEL}/(\d+)", text)
    assert m, text
    return int(m.group(1))


def add_moderator(h: H) -> None:
    h.fake.add_member(MOD, "mod", permissions=discord.Permissions(manage_guild=True, send_messages=True))


async def sim_job_of(h: H, prompt: str) -> str:
    """The Legnext id of the job whose prompt starts with `prompt`, once it was submitted."""
    async def found() -> str | None:
        for job in await h.bot.jobs_repo.all():
            if job.prompt.startswith(prompt) and job.job_id:
                return job.job_id
        return None
    job_id: str = await h.fake.wait_for(found, timeout=10)
    return job_id


async def running_at_api(h: H) -> int:
    h.sim.advance()
    return sum(1 for j in h.sim.jobs.values() if not j.terminal)


# ------------------------------------------------------------------------------------------------ the fair queue


async def test_fair_queue_serves_members_in_turn_and_never_exceeds_the_concurrency(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 2},
                       limits={"running_per_member": 5}) as h:
        peak = 0
        stop = asyncio.Event()

        async def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, await running_at_api(h))
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        texts = [await imagine(h, f"alice job {i}") for i in range(1, 6)]
        assert [t.split(":")[0] for t in texts] == ["Started", "Started", "Queued (position 1)",
                                                   "Queued (position 2)", "Queued (position 3)"], texts
        bob = await imagine(h, "bob job 1", user_id=BOB)
        assert bob.startswith("Queued (position 1)"), bob  # Bob was never served: he goes before Alice's third
        assert len(submits(h)) == 2

        # Alice's waiting jobs moved down one; their messages say so, with a Cancel button
        async def shows(message_id: int, words: str) -> bool:
            msg = h.fake.messages.get(message_id)
            return msg is not None and words in msg.content and msg.labels() == ["Cancel"]
        for text, position in zip(texts[2:], (2, 3, 4), strict=True):
            mid = link_id(text)
            await h.fake.wait_for(lambda mid=mid, p=position: shows(mid, f"(Queued: position {p})"))

        order = []
        for _ in range(6):
            first = submits(h)[len(order)].json["text"]
            order.append(first)
            h.sim.complete_now(await sim_job_of(h, first))
            await h.fake.wait_for(lambda n=len(order): len(submits(h)) >= min(6, n + 2) or None)
        assert [o.split(" --")[0] for o in order] == [
            "alice job 1", "alice job 2", "bob job 1", "alice job 3", "alice job 4", "alice job 5"]
        for job in await h.bot.jobs_repo.all():
            await h.finished_job_message(job.id)
        stop.set()
        await watcher
        assert peak <= 2, peak
        assert all(j.status == "completed" for j in await h.bot.jobs_repo.all())


async def test_a_429_puts_the_job_back_in_the_queue_instead_of_failing_it(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.inject_error(429, "too many concurrent jobs", path="/v1/diffusion", retry_after=0.3)
        text = await imagine(h, "a patient cat")
        assert text.startswith("Queued"), text
        await h.result(lambda m: "a patient cat" in m.content and "U1" in m.labels())
        assert len(submits(h)) == 2  # refused once, then sent again and finished
        (job,) = await h.bot.jobs_repo.all()
        assert job.status == "completed"


async def test_cancel_a_queued_job_requester_and_moderators_only(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        add_moderator(h)
        assert (await imagine(h, "first cat")).startswith("Started")
        second = link_id(await imagine(h, "second cat"))
        third = link_id(await imagine(h, "third cat"))

        press = await h.fake.click(second, "Cancel", user_id=BOB)  # not his
        assert "Only the member who queued this job, or a moderator" in await answer(press)
        press = await h.fake.click(second, "Cancel", user_id=ALICE)
        assert "Cancelled" in await answer(press)
        press = await h.fake.click(third, "Cancel", user_id=MOD)
        assert "Cancelled" in await answer(press)

        for mid in (second, third):
            msg = await h.fake.wait_message(lambda m, mid=mid: m.id == mid and "(Cancelled)" in m.content)
            assert msg.buttons() == [] and "nothing was charged" in msg.embeds[0]["description"]
        press = await h.fake.click(second, "Cancel", user_id=ALICE) if h.fake.messages[second].buttons() else None
        assert press is None  # no button left to press again

        h.sim.complete_now(await sim_job_of(h, "first cat"))
        await h.result(lambda m: "first cat" in m.content and "U1" in m.labels())
        await asyncio.sleep(0.5)  # the queue had its chance
        assert [r.json["text"].split(" --")[0] for r in submits(h)] == ["first cat"]
        jobs = {j.prompt.split(" --")[0]: j for j in await h.bot.jobs_repo.all()}
        assert jobs["second cat"].status == jobs["third cat"].status == "cancelled"
        assert jobs["third cat"].cancelled_by == MOD


async def test_the_queue_and_the_budgets_survive_a_restart(tmp_path: Path) -> None:
    from bot.__main__ import app_context
    from bot.legnext.simulator import running_simulator
    from tests.fakediscord import FakeDiscord, run_bot
    from tests.harness import make_settings

    db = tmp_path / "bot.sqlite3"
    sections: dict[str, Any] = {"legnext": {"concurrency": 1}, "limits": {"member_daily_points": 240}}
    async with running_simulator(**SLOW) as sim, FakeDiscord(guild_id=GUILD, channel_id=CHANNEL) as fake:
        async with app_context(make_settings(sim, fake, db, **sections)) as bot, run_bot(
                bot, fake, token="fake-discord-token-123456"):
            h = H(sim, fake, bot, db)
            assert (await imagine(h, "running owl")).startswith("Started")
            queued = link_id(await imagine(h, "waiting owl"))
        # the bot is gone; its first job ends meanwhile
        (first,) = [r for r in sim.requests if r.method == "POST"]
        running = next(j for j in sim.jobs)
        sim.complete_now(running)
        async with app_context(make_settings(sim, fake, db, **sections)) as bot, run_bot(
                bot, fake, token="fake-discord-token-123456"):
            h = H(sim, fake, bot, db)
            sim.complete_now(await sim_job_of(h, "waiting owl"))  # sent by the queue after the restart
            msg = await h.result(lambda m: m.id == queued and "U1" in m.labels(), wait_s=15)
            assert "waiting owl" in msg.content and msg.buttons()
            assert [r.json["text"].split(" --")[0] for r in submits(h)] == ["running owl", "waiting owl"]
            assert first.json["text"].startswith("running owl")
            # 160 of 240 points spent today: a third imagine (80) fits, a fourth doesn't
            text = await imagine(h, "third owl")
            assert text.startswith("Started"), text
            text = await imagine(h, "fourth owl")
            assert "daily limit of 240 points" in text and "240 used today" in text, text
        fake.assert_clean()


# ------------------------------------------------------------------------------------------------ budgets


async def test_a_member_budget_refuses_the_third_imagine_and_gives_back_a_failed_jobs_points(tmp_path: Path) -> None:
    async with harness(tmp_path, limits={"member_daily_points": 200}) as h:
        assert (await imagine(h, "one fox")).startswith("Started")
        assert (await imagine(h, "two fox")).startswith("Started")
        text = await imagine(h, "three fox")
        assert "daily limit of 200 points" in text and "160 used today, 40 left" in text, text
        assert "needs 80" in text and "midnight UTC" in text and "Nothing was started or charged" in text
        assert len(submits(h)) == 2
        assert (await imagine(h, "bob fox", user_id=BOB)).startswith("Started")  # his own budget

        # a failed job's points come back
        for job in await h.bot.jobs_repo.all():
            await h.finished_job_message(job.id)
        h.sim.fail_next_job("task failed")
        text = await imagine(h, "doomed fox", user_id=BOB)
        assert text.startswith("Started"), text
        await h.result(lambda m: "doomed fox" in m.content and "(Failed)" in m.content)
        assert (await imagine(h, "bob fox again", user_id=BOB)).startswith("Started")


async def test_fifty_presses_at_once_never_overspend(tmp_path: Path) -> None:
    async with harness(tmp_path, legnext={"concurrency": 50},
                       limits={"running_per_member": 50, "queued_per_member": 100,
                               "member_daily_points": 10_000, "server_daily_points": 400}) as h:
        g_msg, _ = await grid(h, "a stormy sea")  # 80 points
        inters = await asyncio.gather(*[
            h.fake.slash("imagine", options={"prompt": f"wave {i}"}, user_id=ALICE if i % 2 else BOB)
            for i in range(50)])
        texts = await asyncio.gather(*[answer(i) for i in inters])
        started = [t for t in texts if t.startswith("Started")]
        assert len(started) == 4, texts  # 80 + 4 * 80 = 400
        assert all("this server's daily limit of 400 points" in t for t in texts if not t.startswith("Started"))
        row = await h.bot.db.fetchone("SELECT SUM(reserved_points), COUNT(*) FROM jobs")
        assert row is not None and tuple(row) == (400, 5)  # nothing refused was recorded
        assert len(submits(h)) == 5
        # presses at once on a grid when the budget is spent: each refused, none charged
        presses = await asyncio.gather(*[h.fake.click(g_msg.id, "V1", user_id=ALICE) for _ in range(10)])
        for p in presses:
            assert "this server's daily limit of 400 points" in await answer(p)
        assert len(submits(h, "/v1/variation")) == 0


# ------------------------------------------------------------------------------------------------ limits


async def test_banned_word_in_a_remix_modal_costs_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path, limits={"banned_words": ["gore", "blood moon"]}) as h:
        text = await imagine(h, "a GORE scene")
        assert "doesn't allow (**gore**)" in text, text
        text = await imagine(h, "a blood   moon rising")
        assert "blood moon" in text, text
        assert (await imagine(h, "a gorgeous bloodmoon")).startswith("Started")  # whole words only
        g_msg = await h.result(lambda m: "gorgeous" in m.content and "U1" in m.labels())
        await toggle_setting(h, "Remix mode")
        before = len([r for r in h.sim.requests if r.method == "POST"])
        inter = await click(h, g_msg, "V1")
        ((name, _),) = modal_inputs(inter).items()
        sub = await h.fake.submit_modal(inter, {name: "the same but with g\u200bore"})
        assert "doesn't allow (**gore**)" in await answer(sub)
        assert len([r for r in h.sim.requests if r.method == "POST"]) == before


async def test_moderators_pause_and_change_limits_members_cannot(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        add_moderator(h)
        text = await answer(await h.fake.slash("limits", options={"paused": True}, user_id=ALICE))
        assert "Only moderators" in text
        text = await answer(await h.fake.slash("limits", options={"paused": True, "member_daily_points": 500},
                                               user_id=MOD))
        assert "Limits changed" in text and "paused: **yes**" in text and "500 points" in text, text
        text = await imagine(h, "a paused cat")
        assert "paused new jobs" in text, text
        assert len(submits(h)) == 0
        assert (await imagine(h, "a moderator's cat", user_id=MOD)).startswith("Started")
        text = await answer(await h.fake.slash("limits", user_id=MOD))
        assert "This server's limits" in text and "member_daily_points: **500 points**" in text
        await answer(await h.fake.slash("limits", options={"paused": False}, user_id=MOD))
        assert (await imagine(h, "an unpaused cat")).startswith("Started")


async def test_allowed_roles_and_channels(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        artists = h.fake.add_role("artists")
        other = 333
        h.fake.add_channel(other, "general")
        async with harness_limits(h, allowed_role_ids=[artists], allowed_channel_ids=[CHANNEL]):
            assert "certain roles" in await imagine(h, "no role cat")
            h.fake.add_member(ALICE, "alice", roles=[artists])
            inter = await h.fake.slash("imagine", options={"prompt": "wrong channel cat"}, channel_id=other)
            assert f"<#{CHANNEL}>" in await answer(inter)
            assert len(submits(h)) == 0
            assert (await imagine(h, "right cat")).startswith("Started")


class harness_limits:
    """Set limits that /limits can't (roles, channels) on the running bot's config, for one block."""

    def __init__(self, h: H, **limits: Any) -> None:
        self.h = h
        self.limits = limits
        self.old: Any = None

    async def __aenter__(self) -> None:
        self.old = self.h.bot.launcher.config
        cfg = self.old
        self.h.bot.launcher.config = cfg.model_copy(update={"limits": cfg.limits.model_copy(update=self.limits)})

    async def __aexit__(self, *exc: object) -> None:
        self.h.bot.launcher.config = self.old


# ------------------------------------------------------------------------------------------------ /usage, /info


async def test_usage_and_info(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1},
                       limits={"member_daily_points": 1000}) as h:
        add_moderator(h)
        assert (await imagine(h, "usage one")).startswith("Started")
        assert (await imagine(h, "usage two")).startswith("Queued")
        h.sim.complete_now(await sim_job_of(h, "usage one"))
        await h.result(lambda m: "usage one" in m.content and "U1" in m.labels())

        text = await answer(await h.fake.slash("info", user_id=ALICE))
        assert "usage two" in text and ("running" in text or "waiting to start" in text), text
        assert "You: 160 points of 1000 points (840 left)" in text, text

        text = await answer(await h.fake.slash("usage", user_id=ALICE))
        assert "**Your usage**" in text and "Today: **160** points (2 jobs)" in text, text
        assert "This server" not in text
        text = await answer(await h.fake.slash("usage", options={"member": BOB}, user_id=ALICE))
        assert "Only moderators" in text
        text = await answer(await h.fake.slash("usage", options={"member": ALICE}, user_id=MOD))
        assert f"<@{ALICE}>'s usage" in text and "This server" in text and f"<@{ALICE}> 160" in text, text


async def test_a_queued_job_whose_uploaded_image_expired_is_not_sent(tmp_path: Path) -> None:
    """Discord's attachment links last about a day: a /describe that waited longer in the queue is shown as not sent
    (nothing charged), instead of being sent with a dead link."""
    import json

    from bot.legnext.simulator.media import make_png

    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        assert (await imagine(h, "a long cat")).startswith("Started")
        png = make_png(8, 8, ((1, 2, 3),))
        inter = await h.fake.slash("describe", attachments={"image": ("cat.png", png, "image/png")})
        text = await answer(inter)
        assert text.startswith("Queued"), text
        (queued,) = await h.bot.jobs_repo.queued()
        url = queued.request["imgUrl"]
        assert "ex=" in url
        stale = re.sub(r"ex=[0-9a-f]+", "ex=5f5e100", url)  # 1973: long gone
        await h.bot.db.execute("UPDATE jobs SET request_json = ? WHERE id = ?",
                               (json.dumps({**queued.request, "imgUrl": stale}), queued.id))
        h.sim.complete_now(await sim_job_of(h, "a long cat"))
        msg = await h.fake.wait_message(lambda m: m.id == queued.message_id and "(Failed)" in m.content)
        assert "expired while it waited in the queue" in msg.embeds[0]["description"]
        assert "nothing was charged" in msg.embeds[0]["description"]
        assert len(submits(h, "/v1/describe")) == 0
        job = await h.bot.jobs_repo.get(queued.id)
        assert job is not None and job.status == "failed"
        assert (await h.bot.jobs_repo.spent(since=0.0, guild_id=GUILD, member_id=ALICE)).points == 80
