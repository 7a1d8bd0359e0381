"""/balance and the moderators' alerts, end to end (real bot, fake Discord, Legnext simulator)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.__main__ import app_context
from bot.client import MJBot
from bot.core.alerts import META_KEY, REFUSED_TEXT, load_state
from bot.core.errors import Alert
from bot.legnext.simulator import running_simulator
from cogs.balance.render import NOT_A_MODERATOR
from tests.fakediscord import FakeDiscord, FakeInteraction, FakeMessage, run_bot
from tests.harness import ALICE, CHANNEL, FAST_DURATIONS, GUILD, H, harness, make_settings

ALERTS = 900_000_000_000_000_002  # the moderators' alert channel
MOD = 666        # has Manage Server
ROLE_MOD = 777   # has the moderator role
MOD_ROLE = 888
BALANCE = "/account/balance"
FAST_CHECKS = {"balance_check_interval_s": 0.2}


def add_moderators(fake: FakeDiscord) -> None:
    fake.add_member(MOD, "manager", permissions=discord.Permissions(
        view_channel=True, send_messages=True, use_application_commands=True, manage_guild=True))
    fake.add_role("Mods", role_id=MOD_ROLE)
    fake.add_member(ROLE_MOD, "rolemod", roles=[MOD_ROLE])
    fake.add_channel(ALERTS, "mod-alerts")


@asynccontextmanager
async def balance_harness(tmp_path: Path, *, balance: int = 100_000, **moderation: Any) -> AsyncIterator[H]:
    mod = {"alert_channel_id": ALERTS, "moderator_role_ids": [MOD_ROLE], **moderation}
    async with harness(tmp_path, sim_kwargs={"balance": balance}, moderation=mod) as h:
        add_moderators(h.fake)
        yield h


async def ask_balance(h: H, user_id: int = MOD) -> tuple[FakeInteraction, FakeMessage]:
    inter = await h.fake.slash("balance", user_id=user_id)
    await inter.wait_response()
    answer = await inter.wait_done()
    assert answer.ephemeral and not inter.late, (inter, answer)
    return inter, answer


def alerts(h: H | FakeDiscord) -> list[str]:
    fake = h.fake if isinstance(h, H) else h
    return [m.content for m in fake.channel_messages(ALERTS)]


async def checks(h: H, n: int = 2) -> None:
    """Wait until the bot read the balance `n` more times (each read is one periodic check)."""
    start = h.sim.count("GET", BALANCE)
    await h.fake.wait_for(lambda: h.sim.count("GET", BALANCE) >= start + n, timeout=10, what=f"{n} balance checks")
    await asyncio.sleep(0.1)  # the check's post, if any, is out


async def until_alerts(fake: FakeDiscord, n: int) -> list[str]:
    await fake.wait_for(lambda: len(alerts(fake)) >= n, timeout=10, what=f"{n} alerts")
    return alerts(fake)


# ------------------------------------------------------------------------------------------------ /balance

async def test_a_moderator_sees_the_simulators_figures(tmp_path: Path) -> None:
    async with balance_harness(tmp_path, balance=1048, balance_alert_points=500) as h:
        reads = h.sim.count("GET", BALANCE)
        for who in (MOD, ROLE_MOD):
            inter, answer = await ask_balance(h, who)
            assert inter.response_type == 5  # deferred first: the read may outlast Discord's 3 seconds
            text = answer.content
            # the simulator's account holds points only (no credits): spendable = credits + points = 1,048
            for figure in ("Balance: **$1.05**", "Available credits: **0**", "Available points: **1,048**",
                           "Spendable points (credits + points): **1,048**",
                           "Low-balance alert at Legnext: **on**", "threshold: $10.00",
                           "1,048 spendable points buy about 13 imagines, or 8 upscales, or 2 480p videos",
                           f"The bot alerts <#{ALERTS}> when spendable points fall below 500."):
                assert figure in text, (figure, text)
            assert "sim-api-key" not in text
            assert answer.allowed_mentions == {"parse": []}
        assert h.sim.count("GET", BALANCE) >= reads + 1
        (cmd_def,) = [c for c in h.fake.registered_commands[GUILD] if c["name"] == "balance"]
        assert cmd_def.get("options", []) == []

        h.sim.balance = 250_000
        await asyncio.sleep(3.1)  # older than a shared reading may be
        _, answer = await ask_balance(h)
        assert "Balance: **$250.00**" in answer.content and "Low-balance alert at Legnext: off" in answer.content


async def test_a_plain_member_is_refused_and_nothing_is_asked(tmp_path: Path) -> None:
    async with balance_harness(tmp_path) as h:
        before = len(h.sim.requests)
        inters = [await h.fake.slash("balance", user_id=ALICE) for _ in range(10)]  # and spamming it
        for inter in inters:
            await inter.wait_response()
            answer = await inter.wait_done()
            assert answer.ephemeral and answer.content == NOT_A_MODERATOR and not inter.late
        assert len(h.sim.requests) == before


async def test_balance_spam_by_a_moderator_is_one_read(tmp_path: Path) -> None:
    async with balance_harness(tmp_path, balance=5000) as h:
        h.sim.balance_delay_s = 0.3
        before = h.sim.count("GET", BALANCE)
        inters = await asyncio.gather(*(h.fake.slash("balance", user_id=MOD) for _ in range(20)))
        for inter in inters:
            await inter.wait_response()
            answer = await inter.wait_done()
            assert answer.ephemeral and "Available points: **5,000**" in answer.content and not inter.late
        assert h.sim.count("GET", BALANCE) - before <= 2


async def test_a_slow_balance_read_is_still_answered(tmp_path: Path) -> None:
    async with balance_harness(tmp_path, balance=5000) as h:
        h.sim.balance_delay_s = 3.5  # longer than Discord waits for the first response
        inter, answer = await ask_balance(h)
        assert inter.response_type == 5 and "5,000" in answer.content


@pytest.mark.parametrize(("status", "count", "words"), [
    (401, 1, "Legnext refused the bot's API key"),
    (402, 1, "out of credits (HTTP 402)"),
    (503, 2, "isn't answering properly right now"),  # a read is retried once
])
async def test_api_errors_are_a_clear_sentence(tmp_path: Path, status: int, count: int, words: str) -> None:
    async with balance_harness(tmp_path) as h:
        h.sim.inject_error(status, count=count, method="GET", path=BALANCE)
        _, answer = await ask_balance(h)
        assert words in answer.content, answer.content
        assert "sim-api-key" not in answer.content and "Traceback" not in answer.content
        if status in (401, 402):  # seen by the alerts too, like any request's
            kind = Alert.BAD_KEY if status == 401 else Alert.OUT_OF_CREDITS
            assert (await until_alerts(h.fake, 1))[0].startswith(REFUSED_TEXT[kind])


# ------------------------------------------------------------------------------------------------ low balance

async def test_low_balance_alert_once_per_crossing(tmp_path: Path) -> None:
    async with balance_harness(tmp_path, balance=1050, balance_alert_points=1000, **FAST_CHECKS) as h:
        await checks(h)
        assert alerts(h) == []

        # a job consumes 80 points: 970 left, below 1,000
        inter = await h.imagine("a lighthouse")
        assert (await inter.wait_done()).content.startswith("Started")
        (text,) = await until_alerts(h.fake, 1)
        assert "**970** spendable points left ($0.97)" in text and "1,000 points" in text
        assert "about 12 imagines" in text
        (msg,) = h.fake.channel_messages(ALERTS)
        assert msg.allowed_mentions == {"parse": []} and not msg.ephemeral

        await checks(h, 3)  # still below: nothing again
        assert len(alerts(h)) == 1

        h.sim.balance = 5000  # topped up
        await checks(h)
        assert len(alerts(h)) == 1
        h.sim.balance = 400  # and down again
        texts = await until_alerts(h.fake, 2)
        assert "**400** spendable points left" in texts[1]
        await checks(h, 2)
        assert len(alerts(h)) == 2


async def test_an_alert_channel_the_bot_cannot_post_in(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    async with balance_harness(tmp_path, balance=500, balance_alert_points=1000, **FAST_CHECKS) as h:
        h.fake.set_bot_permissions(ALERTS, discord.Permissions(view_channel=True, read_message_history=True))
        await checks(h, 3)
        assert alerts(h) == []
        assert any("could not post an alert" in r.getMessage() and r.levelno == logging.WARNING
                   for r in caplog.records)
        assert any(r.path == f"/channels/{ALERTS}/messages" and (r.status, r.code) == (403, 50013)
                   for r in h.fake.refusals), h.fake.refusals
        # the bot goes on: /balance still works, and the alert comes once the channel lets it in
        _, answer = await ask_balance(h)
        assert "Available points: **500**" in answer.content
        h.fake.set_bot_permissions(ALERTS, None)
        (text,) = await until_alerts(h.fake, 1)
        assert "**500** spendable points left" in text
        await checks(h, 2)
        assert len(alerts(h)) == 1


async def test_no_alert_channel(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    async with balance_harness(tmp_path, balance=500, balance_alert_points=1000, alert_channel_id=0,
                               **FAST_CHECKS) as h:
        await checks(h, 3)
        logged = [r for r in caplog.records if "no moderation.alert_channel_id" in r.getMessage()]
        assert len(logged) == 1 and "**500** spendable points left" in logged[0].getMessage()
        assert alerts(h) == [] and [m for m in h.fake.messages.values() if not m.ephemeral] == []
        _, answer = await ask_balance(h)
        assert "notes in its log when spendable points fall below 1,000" in answer.content


async def test_no_periodic_reads_when_the_alert_is_off(tmp_path: Path) -> None:
    async with balance_harness(tmp_path, **FAST_CHECKS) as h:
        start = h.sim.count("GET", BALANCE)
        await asyncio.sleep(0.8)
        assert h.sim.count("GET", BALANCE) == start


# ------------------------------------------------------------------------------------------------ 401 / 402

async def test_out_of_credits_alert_once_until_a_job_is_accepted(tmp_path: Path) -> None:
    async with balance_harness(tmp_path, balance=50) as h:
        for prompt in ("a cat", "a dog", "a bird"):
            answer = await (await h.imagine(prompt)).wait_done()
            assert "balance has run out" in answer.content and "moderators have been told" in answer.content
        (text,) = alerts(h)
        assert text == REFUSED_TEXT[Alert.OUT_OF_CREDITS] + " Available: **50** spendable points ($0.05)."
        assert h.fake.channel_messages(ALERTS)[0].allowed_mentions == {"parse": []}

        h.sim.balance = 130  # topped up: one imagine goes through...
        assert (await (await h.imagine("a fox")).wait_done()).content.startswith("Started")
        await h.result(lambda m: "a fox" in m.content)
        assert len(alerts(h)) == 1
        answer = await (await h.imagine("an owl")).wait_done()  # ...and the next one runs out again
        assert "run out" in answer.content
        texts = await until_alerts(h.fake, 2)
        assert texts[1].endswith("Available: **50** spendable points ($0.05).")


async def test_bad_key_alert_once_until_a_request_succeeds(tmp_path: Path) -> None:
    async with balance_harness(tmp_path) as h:
        h.sim.api_key = "rotated-key"
        for prompt in ("a cat", "a dog"):
            answer = await (await h.imagine(prompt)).wait_done()
            assert "refused its API key" in answer.content
        _, answer = await ask_balance(h)  # a 401 on a read: still the same problem
        assert "refused the bot's API key" in answer.content
        assert alerts(h) == [REFUSED_TEXT[Alert.BAD_KEY]]

        h.sim.api_key = "sim-api-key-abcdef"  # fixed: the next answer clears it
        _, answer = await ask_balance(h)
        assert "Available points" in answer.content
        h.sim.api_key = "rotated-again"
        await (await h.imagine("a bird")).wait_done()
        assert await until_alerts(h.fake, 2) == [REFUSED_TEXT[Alert.BAD_KEY]] * 2
        assert "sim-api-key" not in "".join(m.content for m in h.fake.messages.values())


# ------------------------------------------------------------------------------------------------ restarts

@asynccontextmanager
async def started(settings: Any, fake: FakeDiscord) -> AsyncIterator[MJBot]:
    async with app_context(settings) as bot, run_bot(bot, fake, token="fake-discord-token-123456"):
        yield bot


async def test_alert_state_survives_a_restart(tmp_path: Path) -> None:
    async with running_simulator(durations=dict(FAST_DURATIONS), balance=500) as sim, \
            FakeDiscord(guild_id=GUILD, channel_id=CHANNEL) as fake:
        add_moderators(fake)
        settings = make_settings(sim, fake, tmp_path / "bot.sqlite3", moderation={
            "alert_channel_id": ALERTS, "balance_alert_points": 1000, **FAST_CHECKS})

        async def reads(n: int) -> None:
            start = sim.count("GET", BALANCE)
            await fake.wait_for(lambda: sim.count("GET", BALANCE) >= start + n, timeout=10)
            await asyncio.sleep(0.1)

        async with started(settings, fake) as bot:
            await until_alerts(fake, 1)
            await reads(2)
            assert load_state(await bot.meta.get(META_KEY)).low
        async with started(settings, fake):  # still below after the restart: no second alert
            await reads(3)
            assert len(alerts(fake)) == 1

        # an alert Discord refused before a stop is still owed after the start
        sim.balance = 5000
        async with started(settings, fake):
            await reads(2)
            fake.set_bot_permissions(ALERTS, discord.Permissions(view_channel=True))
            sim.balance = 300
            await reads(2)
        assert len(alerts(fake)) == 1
        fake.set_bot_permissions(ALERTS, None)
        sim.balance = 200  # lower still, but the alert owed is the one decided before the stop
        async with started(settings, fake):
            texts = await until_alerts(fake, 2)
            await reads(2)
        assert len(alerts(fake)) == 2 and "**300** spendable points left" in texts[1]
        fake.assert_clean()


# ------------------------------------------------------------------------------------------------ posted once

async def test_an_alert_posted_again_with_its_nonce_is_the_same_message(tmp_path: Path) -> None:
    """What the watch's retry of an alert Discord made but never confirmed does: the same nonce (enforce_nonce)
    gets the message Discord made back, not a second one; the next alert (another nonce) is a new message."""
    async with balance_harness(tmp_path) as h:
        assert await h.bot.presenter.post_alert("⚠️ first", "mja1-low")
        assert await h.bot.presenter.post_alert("⚠️ first", "mja1-low")
        assert alerts(h) == ["⚠️ first"]
        assert await h.bot.presenter.post_alert("⚠️ second", "mja2-low")
        assert alerts(h) == ["⚠️ first", "⚠️ second"]
        assert [m.nonce for m in h.fake.channel_messages(ALERTS)] == ["mja1-low", "mja2-low"]
        h.fake.assert_clean()
