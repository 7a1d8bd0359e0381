"""Hostile tests of /balance and the moderators' alerts (issue 10, points 1-2). Each test names one suspected defect;
they are expected to FAIL until the code is fixed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from aiohttp import web

from bot.core.alerts import META_KEY, AlertWatch, load_state
from bot.core.errors import Alert
from bot.legnext.client import LegnextClient
from bot.legnext.models import Balance
from bot.legnext.simulator import running_simulator
from bot.storage.database import Database
from bot.storage.meta import MetaRepo
from cogs.balance.render import balance_text
from tests.fakediscord import FakeDiscord
from tests.harness import CHANNEL, FAST_DURATIONS, GUILD, make_settings
from tests.test_balance_e2e import ALERTS, add_moderators, alerts, balance_harness, started, until_alerts

# The documented example answer of GET /account/balance (seed 004, "Get Account Balance").
DOCS_EXAMPLE = {"code": 200, "data": {"account_id": 1, "balance_usd": 72.048, "available_credits": 71000,
                                      "available_points": 1048, "alert_threshold": 10, "low_balance_alert": False,
                                      "updated_at": "2025-11-05T08:22:37.784663288Z"}, "message": "success"}


@contextlib.asynccontextmanager
async def fake_legnext(handler: Callable[[web.Request], Any]) -> AsyncIterator[tuple[LegnextClient, list[str]]]:
    """A tiny HTTP server in place of Legnext's /account/balance, and the bot's real client pointed at it."""
    hits: list[str] = []

    async def balance(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        result: web.StreamResponse = await handler(request)
        return result

    app = web.Application()
    app.router.add_get("/api/account/balance", balance)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with LegnextClient(base_url=f"http://127.0.0.1:{port}/api", api_key="attack-key-123456",
                                 timeout_s=2, read_retries=0) as client:
            yield client, hits
    finally:
        await runner.cleanup()


def recorder(accept: bool = True) -> tuple[list[str], Callable[[str], Any]]:
    posted: list[str] = []

    async def post(text: str, nonce: str) -> bool:
        posted.append(text)
        return accept

    return posted, post


# ------------------------------------------------------------------------------------------------ the check loop

@pytest.mark.allow_error_logs  # the point is the request count, not the log line
async def test_an_unexpected_read_error_does_not_make_the_check_loop_hammer_the_api(tmp_path: Path) -> None:
    """A balance answer httpx can't decode (a proxy sending `Content-Encoding: gzip` over plain bytes) raises
    httpx.DecodingError, which is neither a LegnextError nor a TimeoutError: check() lets it out, _run logs it and
    never moves next_check forward, so the loop re-reads the balance with no pause at all."""
    async def garbled(_: web.Request) -> web.StreamResponse:
        return web.Response(body=b"this is not gzip at all", headers={"Content-Encoding": "gzip",
                                                                      "Content-Type": "application/json"})

    async with fake_legnext(garbled) as (client, hits), Database(tmp_path / "db.sqlite3") as db:
        _, post = recorder()
        cfg = SimpleNamespace(balance_alert_points=1000, balance_check_interval_s=30.0)
        watch = AlertWatch(meta=MetaRepo(db), read_balance=client.balance, post=post, config=cfg)
        await watch.start()
        try:
            await asyncio.sleep(0.5)
        finally:
            await watch.stop()
        assert len(hits) <= 2, f"{len(hits)} balance reads in 0.5 s with balance_check_interval_s = 30"


async def test_balance_of_an_answer_httpx_cannot_decode_is_a_sentence_not_an_unexpected_error(
        tmp_path: Path) -> None:
    """The same httpx.DecodingError reaches /balance: the cog catches only LegnextError/TimeoutError, so the tree's
    Reporter logs an ERROR ("unexpected error in /balance") and the moderator gets the catch-all sentence."""
    async def garbled(_: web.Request) -> web.StreamResponse:
        return web.Response(body=b"this is not gzip at all", headers={"Content-Encoding": "gzip",
                                                                      "Content-Type": "application/json"})

    async with balance_harness(tmp_path) as h:
        async with fake_legnext(garbled) as (other, hits):
            real = h.bot.api.base_url
            h.bot.api.base_url = other.base_url  # only /balance reads the API during this test
            try:
                inter = await h.fake.slash("balance", user_id=666)
                await inter.wait_response()
                answer = await inter.wait_done()
            finally:
                h.bot.api.base_url = real
        assert hits
        assert "balance" in answer.content.lower() and "Legnext" in answer.content, answer.content


# ------------------------------------------------------------------------------------------------ odd answers

@pytest.mark.parametrize("body", [
    {"code": 500, "message": "system busy", "data": None},          # an error in the body of an HTTP 200
    {"code": 200, "message": "success", "data": {"balance_usd": 72.048, "available_credits": 71000}},  # no points
    {"code": 200, "message": "success", "data": {"available_points": "n/a"}},
])
async def test_a_balance_answer_without_a_points_figure_is_not_read_as_zero(tmp_path: Path,
                                                                            body: dict[str, Any]) -> None:
    """BalanceData defaults every missing or unreadable figure to 0, and the watch treats 0 as a real reading:
    moderators get "The Legnext balance is low: 0 points left" about an account nobody measured."""
    async def answer(_: web.Request) -> web.StreamResponse:
        return web.json_response(body)

    async with fake_legnext(answer) as (client, hits), Database(tmp_path / "db.sqlite3") as db:
        posted, post = recorder()
        cfg = SimpleNamespace(balance_alert_points=1000, balance_check_interval_s=30.0)
        watch = AlertWatch(meta=MetaRepo(db), read_balance=client.balance, post=post, config=cfg)
        await watch.start()
        try:
            await asyncio.sleep(0.3)
        finally:
            await watch.stop()
        assert hits, "the check did not read the balance"
        assert posted == [], posted


def test_balance_shows_an_unreadable_answer_as_unknown_not_as_an_empty_account() -> None:
    """/balance of an HTTP 200 whose body says `code: 500, data: null` tells the moderator the account holds
    $0.00 and 0 points (and buys nothing), instead of saying the balance could not be read."""
    data = Balance.model_validate({"code": 500, "message": "system busy", "data": None}).data
    text = balance_text(data, alert_points=0, alert_channel_id=0)
    assert "$0.00" not in text and "**0**" not in text, text


# ------------------------------------------------------------------------------------------------ credits vs points

def test_what_the_balance_buys_counts_the_credits_too() -> None:
    """The docs' own example: $72.048 = 71,000 credits + 1,048 points (both in thousandths of a dollar; points are
    "bonus points or promotional credits"). /balance says the account buys "about 13 imagines" — it buys ~900.
    (Contract says "available points"; the docs say credits are what API operations use. Needs a decision.)"""
    data = Balance.model_validate(DOCS_EXAMPLE).data
    text = balance_text(data, alert_points=0, alert_channel_id=0)
    assert "about 13 imagines" not in text, text
    assert "900 imagines" in text, text


async def test_an_account_with_72_dollars_of_credits_is_not_alerted_as_low(tmp_path: Path) -> None:
    """Same figures, threshold 5,000 points: the bot posts "The Legnext balance is low: 1,048 points left ($72.05)"
    — an alert that contradicts itself."""
    async def read() -> Balance:
        return Balance.model_validate(DOCS_EXAMPLE)

    async with Database(tmp_path / "db.sqlite3") as db:
        posted, post = recorder()
        cfg = SimpleNamespace(balance_alert_points=5000, balance_check_interval_s=30.0)
        watch = AlertWatch(meta=MetaRepo(db), read_balance=read, post=post, config=cfg)
        await watch.start()
        try:
            await asyncio.sleep(0.2)
        finally:
            await watch.stop()
        assert posted == [], posted


# ------------------------------------------------------------------------------------------------ never posted

async def test_an_alert_owed_before_a_restart_is_posted_with_the_low_balance_check_off(tmp_path: Path) -> None:
    """start() loads the owed alerts but never flushes them; only a periodic check (balance_alert_points > 0, off
    by default) or a new state change does. An out-of-credits alert Discord refused before a restart is never
    posted after it (the start-up balance read is a GET: it doesn't change the out-of-credits state)."""
    async with running_simulator(durations=dict(FAST_DURATIONS), balance=50) as sim, \
            FakeDiscord(guild_id=GUILD, channel_id=CHANNEL) as fake:
        add_moderators(fake)
        settings = make_settings(sim, fake, tmp_path / "bot.sqlite3", moderation={
            "alert_channel_id": ALERTS, "balance_alert_points": 0})
        async with started(settings, fake) as bot:
            fake.set_bot_permissions(ALERTS, discord.Permissions(view_channel=True))
            inter = await fake.slash("imagine", options={"prompt": "a cat"})
            await inter.wait_response()
            assert "run out" in (await inter.wait_done()).content
            await asyncio.sleep(0.2)
            assert [n.kind for n in load_state(await bot.meta.get(META_KEY)).owed] == [Alert.OUT_OF_CREDITS.value]
        assert alerts(fake) == []
        fake.set_bot_permissions(ALERTS, None)  # the moderators fixed the channel's permissions
        async with started(settings, fake):
            with contextlib.suppress(AssertionError, TimeoutError):
                await until_alerts(fake, 1)
        assert len(alerts(fake)) == 1, "the owed out-of-credits alert was never posted after the restart"
        fake.assert_clean()


# ------------------------------------------------------------------------------------------------ posted twice

async def test_an_alert_discord_made_but_never_confirmed_is_not_posted_again(tmp_path: Path) -> None:
    """post_alert returns False on a 5xx or a time-out — which Discord may answer after making the message — and
    the watch posts it again: two alerts. Job messages guard against exactly this with a nonce + enforce_nonce;
    post_alert sends none, so nothing lets Discord return the first message."""
    made: dict[str, str] = {}  # nonce -> text: the messages Discord made
    tries: list[str] = []

    async def post(text: str, nonce: str) -> bool:
        tries.append(nonce)
        made.setdefault(nonce, text)  # Discord made the message (a nonce it saw returns that one: enforce_nonce)...
        return len(tries) > 1         # ...but the first answer was lost (503 after the fact / read time-out)

    async def read() -> Balance:
        return Balance.model_validate({"data": {"available_credits": 0, "available_points": 40, "balance_usd": 0.04}})

    async with Database(tmp_path / "db.sqlite3") as db:
        cfg = SimpleNamespace(balance_alert_points=100, balance_check_interval_s=0.1)
        watch = AlertWatch(meta=MetaRepo(db), read_balance=read, post=post, config=cfg)
        await watch.start()
        try:
            await asyncio.sleep(0.5)
        finally:
            await watch.stop()
    assert len(made) == 1, f"the same alert was sent {len(made)} times"


async def test_a_stop_while_an_alert_is_being_posted_does_not_post_it_again_after_the_restart(
        tmp_path: Path) -> None:
    """stop() cancels the flush at once. An alert whose POST already reached Discord when the stop came is still
    stored as owed, and the next start posts it a second time (an ordinary restart, not a crash)."""
    made: list[str] = []

    async def post(text: str, nonce: str) -> bool:
        made.append(text)          # the request reached Discord: the message exists
        await asyncio.sleep(0.3)   # its answer is on the way back
        return True

    async def read() -> Balance:
        return Balance.model_validate({"data": {"available_credits": 0, "available_points": 40, "balance_usd": 0.04}})

    cfg = SimpleNamespace(balance_alert_points=100, balance_check_interval_s=0.1)
    async with Database(tmp_path / "db.sqlite3") as db:
        meta = MetaRepo(db)
        watch = AlertWatch(meta=meta, read_balance=read, post=post, config=cfg)
        await watch.start()
        for _ in range(100):
            if made:
                break
            await asyncio.sleep(0.01)
        await watch.stop()          # SIGTERM while the post is in flight
        again = AlertWatch(meta=meta, read_balance=read, post=post, config=cfg)
        await again.start()
        try:
            await asyncio.sleep(0.5)
        finally:
            await again.stop()
    assert len(made) == 1, f"the same alert was sent {len(made)} times across a restart"


# ------------------------------------------------------------------------------------------------ what members read

async def test_a_member_is_not_told_the_moderators_know_when_the_alert_was_not_posted(tmp_path: Path) -> None:
    """Reporter says "The moderators have been told." whenever an alert channel is configured, even when the alert
    could not be posted there (the bot can't write in it, it was deleted, or it is in another server)."""
    async with balance_harness(tmp_path, balance=50) as h:
        h.fake.set_bot_permissions(ALERTS, discord.Permissions(view_channel=True, read_message_history=True))
        inter = await h.imagine("a cat")
        answer = await inter.wait_done()
        assert "run out" in answer.content
        assert alerts(h) == []
        assert "moderators have been told" not in answer.content.lower(), answer.content


# ------------------------------------------------------------------------------------------ sanity of the test data

def test_the_docs_example_is_what_the_tests_think() -> None:
    d = Balance.model_validate(DOCS_EXAMPLE).data
    assert (d.available_credits + d.available_points) == round(d.balance_usd * 1000)
