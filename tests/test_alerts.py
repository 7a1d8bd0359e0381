"""The alert rules of `bot.core.alerts` (pure), and the watch that applies them over a real database."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.alerts import (
    LOW_BALANCE,
    META_KEY,
    AlertState,
    AlertWatch,
    Buys,
    Notice,
    after_answer,
    after_balance,
    after_refusal,
    alert_nonce,
    balance_failure,
    buys_text,
    dump_state,
    load_state,
    notice_text,
    sent,
    what_it_buys,
)
from bot.core.errors import Alert
from bot.legnext import errors as api
from bot.legnext.models import Balance
from bot.storage.database import Database
from bot.storage.meta import MetaRepo

BAD_KEY, NO_CREDITS = Alert.BAD_KEY.value, Alert.OUT_OF_CREDITS.value


def kinds(state: AlertState) -> list[str]:
    return [n.kind for n in state.owed]


# ------------------------------------------------------------------------------------------------ low balance

def test_low_balance_alerts_once_per_crossing() -> None:
    s, n = after_balance(AlertState(), 5000, 1000)
    assert n is None and not s.low
    s, n = after_balance(s, 999, 1000, 0.999)
    assert n == Notice(LOW_BALANCE, 999, 1000, 0.999) and s.low and kinds(s) == [LOW_BALANCE]
    s = sent(s, n)
    assert s.owed == ()
    for points in (500, 10, 0, 999):  # still below: nothing more
        s, n = after_balance(s, points, 1000)
        assert n is None and s.low and s.owed == ()
    s, n = after_balance(s, 1000, 1000)  # at the threshold is not below it
    assert n is None and not s.low
    s, n = after_balance(s, 20, 1000)
    assert n is not None and n.points == 20


def test_low_balance_off_and_recovered_before_posted() -> None:
    s, n = after_balance(AlertState(), 0, 0)
    assert n is None and s == AlertState()
    s, n = after_balance(AlertState(), 10, 100)
    assert n is not None and kinds(s) == [LOW_BALANCE]
    # topped up before Discord took the alert: it is no longer owed
    s, n = after_balance(s, 5000, 100)
    assert n is None and s == AlertState()
    # the alert turned off while low: forgotten, so turning it on alerts again
    s, _ = after_balance(AlertState(low=True), 10, 0)
    assert not s.low


# ------------------------------------------------------------------------------------------------ 401 / 402

def test_bad_key_alerts_once_until_any_success() -> None:
    s, n = after_answer(AlertState(), "POST", 401)
    assert n == Notice(BAD_KEY) and s.bad_key
    s = sent(s, n)
    for method, status in (("GET", 401), ("POST", 401), ("GET", 500), ("GET", 0), ("POST", 429)):
        s, n = after_answer(s, method, status)
        assert n is None and s.bad_key
    s, n = after_answer(s, "GET", 200)
    assert n is None and not s.bad_key
    s, n = after_answer(s, "GET", 401)
    assert n == Notice(BAD_KEY)


def test_out_of_credits_is_over_only_when_a_submit_is_accepted() -> None:
    s, n = after_answer(AlertState(), "POST", 402)
    assert n == Notice(NO_CREDITS) and s.out_of_credits
    s = sent(s, n)
    # running jobs keep being read while submits fail: those 200s say nothing about credits
    s, n = after_answer(s, "GET", 200)
    assert n is None and s.out_of_credits
    s, n = after_answer(s, "POST", 402)
    assert n is None
    s, n = after_answer(s, "POST", 200)
    assert n is None and not s.out_of_credits
    s, n = after_answer(s, "POST", 402)
    assert n == Notice(NO_CREDITS)


def test_refusals_raised_to_members_are_the_same_events() -> None:
    s, n = after_refusal(AlertState(), Alert.BAD_KEY)
    assert n == Notice(BAD_KEY)
    s, n = after_answer(s, "POST", 401)  # the hook saw it too: no second alert
    assert n is None and kinds(s) == [BAD_KEY]
    s, n = after_refusal(s, Alert.OUT_OF_CREDITS)
    assert kinds(s) == [BAD_KEY, NO_CREDITS]
    # a success drops the owed bad-key alert (the key works) but keeps the out-of-credits one (a read)
    s, _ = after_answer(s, "GET", 204)
    assert kinds(s) == [NO_CREDITS]


@given(st.lists(st.tuples(st.sampled_from(["GET", "POST"]),
                          st.sampled_from([0, 200, 201, 400, 401, 402, 404, 429, 500, 503])), max_size=60))
def test_never_two_alerts_of_a_kind_without_the_state_changing_back(events: list[tuple[str, int]]) -> None:
    s = AlertState()
    alerted = {BAD_KEY: False, NO_CREDITS: False}
    for method, status in events:
        s, n = after_answer(s, method, status)
        if n is not None:
            assert not alerted[n.kind], (events, n)
            alerted[n.kind] = True
            s = sent(s, n)
        if 200 <= status < 300:
            alerted[BAD_KEY] = False
            if method == "POST":
                alerted[NO_CREDITS] = False
        assert len(s.owed) == len({x.kind for x in s.owed})


# ------------------------------------------------------------------------------------------------ storage

def test_state_round_trips_and_garbage_is_the_empty_state() -> None:
    s = AlertState(low=True, bad_key=False, out_of_credits=True,
                   owed=(Notice(LOW_BALANCE, 12, 100, 0.012), Notice(NO_CREDITS)))
    assert load_state(dump_state(s)) == s
    for junk in (None, "", "not json", "[]", "42", '{"low": "yes"}', '{"owed": [{"kind": "nope"}, 5]}'):
        assert load_state(junk) == AlertState()
    assert load_state('{"owed": [{"kind": "low_balance", "points": true, "usd": "x"}]}').owed == (
        Notice(LOW_BALANCE),)


def test_each_alert_has_its_own_nonce_the_same_on_every_try_and_across_a_restart() -> None:
    s, low = after_balance(AlertState(), 10, 100)
    s, key = after_answer(s, "POST", 401)
    assert low is not None and key is not None
    nonces = {alert_nonce(low), alert_nonce(key)}
    assert len(nonces) == 2 and all(len(x) <= 25 for x in nonces)  # Discord's limit
    assert alert_nonce(replace(low, points=5, usd=0.005)) == alert_nonce(low)  # figures filled in: the same alert
    again = load_state(dump_state(s))  # a restart
    assert [alert_nonce(n) for n in again.owed] == [alert_nonce(low), alert_nonce(key)]
    # the next crossing is another alert (another message), even after a restart
    s, _ = after_balance(sent(sent(again, low), key), 5000, 100)
    s, low2 = after_balance(load_state(dump_state(s)), 10, 100)
    s, key2 = after_answer(after_answer(s, "GET", 200)[0], "GET", 401)
    assert low2 is not None and key2 is not None
    assert len(nonces | {alert_nonce(low2), alert_nonce(key2)}) == 4
    assert len(alert_nonce(replace(low2, seq=10**15 - 1))) <= 25


# ------------------------------------------------------------------------------------------------ sentences

def test_what_points_buy() -> None:
    assert what_it_buys(1048) == Buys(imagines=13, upscales=8, videos_480p=2)
    assert what_it_buys(79) == what_it_buys(0) == what_it_buys(-5) == Buys(0, 0, 0)
    assert buys_text(1048) == "about 13 imagines, or 8 upscales, or 2 480p videos"
    assert buys_text(480) == "about 6 imagines, or 4 upscales, or 1 480p video"


def test_alert_texts_name_the_figures_and_hold_no_mentions() -> None:
    low = notice_text(Notice(LOW_BALANCE, 970, 1000, 0.97))
    assert "**970** spendable points left ($0.97)" in low and "1,000 points" in low
    assert "about 12 imagines, or 8 upscales, or 2 480p videos" in low
    out = notice_text(Notice(NO_CREDITS, 50, None, 0.05))
    assert out.endswith("Available: **50** spendable points ($0.05).")
    assert notice_text(Notice(BAD_KEY)).startswith("⚠️ Legnext refused the bot's API key")
    for text in (low, out, notice_text(Notice(BAD_KEY))):
        assert "@" not in text and "<" not in text


@pytest.mark.parametrize(("exc", "words"), [
    (api.AuthError("Failed to verify api key", status=401), "refused the bot's API key"),
    (api.OutOfCredits(status=402), "out of credits"),
    (api.ServerError("boom", status=503), "isn't answering properly"),
    (api.TransportError("ConnectError"), "isn't answering properly"),
    (TimeoutError(), "didn't answer in time"),
    (api.NotFound(status=404), "(HTTP 404)"),
    (api.UnexpectedResponse("couldn't read the balance: code 500"), "couldn't read the balance"),
])
def test_balance_failures_are_sentences(exc: BaseException, words: str) -> None:
    text = balance_failure(exc)
    assert words in text and text.endswith(".")


# ------------------------------------------------------------------------------------------------ the watch

class FakeApi:
    def __init__(self, points: int) -> None:
        self.points = points
        self.reads = 0
        self.fail: api.LegnextError | None = None

    async def balance(self) -> Balance:
        self.reads += 1
        if self.fail is not None:
            raise self.fail
        return Balance.model_validate({"data": {"available_credits": 0, "available_points": self.points,
                                                "balance_usd": self.points / 1000}})


async def test_watch_posts_once_retries_a_refused_post_and_remembers(tmp_path: Path) -> None:
    cfg = SimpleNamespace(balance_alert_points=100, balance_check_interval_s=0.05)
    posted: list[str] = []
    accept = [False]

    async def post(text: str, nonce: str) -> bool:
        if accept[0]:
            posted.append(text)
        return accept[0]

    fake = FakeApi(5000)
    async with Database(tmp_path / "db.sqlite3") as db:
        meta = MetaRepo(db)
        watch = AlertWatch(meta=meta, read_balance=fake.balance, post=post, config=cfg)
        watch.answered("job", "GET", 401, 0.1)  # before start: ignored (the stored state is not known yet)
        await watch.start()
        try:
            await asyncio.sleep(0.15)
            assert fake.reads >= 2 and posted == []
            fake.points = 40
            await asyncio.sleep(0.2)  # crossed, but Discord refuses: owed
            assert posted == [] and kinds(watch.state) == [LOW_BALANCE]
            assert load_state(await meta.get(META_KEY)).owed == watch.state.owed
            accept[0] = True
            await asyncio.sleep(0.2)  # tried again
            assert len(posted) == 1 and "**40** spendable points" in posted[0]
            await asyncio.sleep(0.2)
            assert len(posted) == 1
        finally:
            await watch.stop()
        assert load_state(await meta.get(META_KEY)) == AlertState(low=True)

        # a new watch (a restart) on the same database: still below, no second alert
        again = AlertWatch(meta=meta, read_balance=fake.balance, post=post, config=cfg)
        await again.start()
        try:
            await asyncio.sleep(0.2)
        finally:
            await again.stop()
        assert len(posted) == 1


async def test_watch_refused_names_the_balance_and_waits_for_the_post(tmp_path: Path) -> None:
    cfg = SimpleNamespace(balance_alert_points=0, balance_check_interval_s=900)
    posted: list[str] = []

    async def post(text: str, nonce: str) -> bool:
        await asyncio.sleep(0.05)
        posted.append(text)
        return True

    fake = FakeApi(50)
    async with Database(tmp_path / "db.sqlite3") as db:
        watch = AlertWatch(meta=MetaRepo(db), read_balance=fake.balance, post=post, config=cfg)
        await watch.start()
        try:
            watch.answered("diffusion", "POST", 402, 0.1)
            await watch.refused(Alert.OUT_OF_CREDITS)
            assert posted == [notice_text(Notice(NO_CREDITS, 50, None, 0.05))]
            assert fake.reads == 1  # the figures; no periodic checks with the alert off
            # a failed figures read still posts the alert, without figures
            watch.answered("diffusion", "POST", 200, 0.1)
            fake.fail = api.AuthError(status=401)
            await watch.refused(Alert.OUT_OF_CREDITS)
            assert posted[-1] == notice_text(Notice(NO_CREDITS))
        finally:
            await watch.stop()


async def test_a_refused_post_is_tried_again_less_and_less_often(tmp_path: Path) -> None:
    cfg = SimpleNamespace(balance_alert_points=0, balance_check_interval_s=900)
    tries: list[str] = []

    async def post(text: str, nonce: str) -> bool:
        tries.append(text)
        return len(tries) > 5

    async with Database(tmp_path / "db.sqlite3") as db:
        watch = AlertWatch(meta=MetaRepo(db), read_balance=FakeApi(0).balance, post=post, config=cfg)
        await watch.start()
        try:
            watch.answered("diffusion", "POST", 401, 0.1)  # its post is scheduled at once
            await asyncio.sleep(0.05)
            waits = []
            for _ in range(5):
                assert watch._retry_at is not None
                waits.append(round(watch._retry_at - time.monotonic(), -1))
                watch._retry_at = None  # as the loop does when it tries again
                await watch.flush()
            assert waits == [60, 120, 240, 480, 900]  # at least every balance_check_interval_s
            assert len(tries) == 6 and watch.state.owed == () and watch._retry_at is None
        finally:
            await watch.stop()


@pytest.mark.parametrize("data", [
    {"available_credits": 0, "available_points": 10},
    {"available_credits": "10", "available_points": "0"},  # numbers as strings: still numbers
])
async def test_the_threshold_counts_credits_and_points(tmp_path: Path, data: dict[str, object]) -> None:
    posted: list[str] = []

    async def post(text: str, nonce: str) -> bool:
        posted.append(text)
        return True

    async def rich() -> Balance:  # the docs' example: $72.048 = 71,000 credits + 1,048 points
        return Balance.model_validate({"code": 200, "data": {"balance_usd": 72.048, "available_credits": 71000,
                                                             "available_points": 1048, "extra": "ignored"}})

    async def poor() -> Balance:
        return Balance.model_validate({"data": data})

    cfg = SimpleNamespace(balance_alert_points=5000, balance_check_interval_s=900)
    async with Database(tmp_path / "db.sqlite3") as db:
        for read in (rich, poor):
            watch = AlertWatch(meta=MetaRepo(db), read_balance=read, post=post, config=cfg)
            await watch.start()
            try:
                await watch.check()
            finally:
                await watch.stop()
    (text,) = posted
    assert "**10** spendable points left" in text


@pytest.mark.parametrize("body", [
    {"code": 500, "message": "system busy", "data": None},
    {"code": 402, "data": {"available_credits": 0, "available_points": 0}},
    {"data": {"available_points": 10}},                                   # no credits: the sum is not known
    {"data": {"available_credits": 10, "available_points": None}},
    {"data": {"available_credits": True, "available_points": 10}},
    {"data": {"available_credits": 0, "available_points": "NaN"}},
])
async def test_a_check_without_readable_figures_decides_nothing(tmp_path: Path, body: dict[str, object]) -> None:
    posted: list[str] = []

    async def post(text: str, nonce: str) -> bool:
        posted.append(text)
        return True

    async def read() -> Balance:
        return Balance.model_validate(body)

    cfg = SimpleNamespace(balance_alert_points=1000, balance_check_interval_s=900)
    async with Database(tmp_path / "db.sqlite3") as db:
        watch = AlertWatch(meta=MetaRepo(db), read_balance=read, post=post, config=cfg)
        await watch.start()
        try:
            await watch.check()
            assert watch.state == AlertState() and posted == []
            # an out-of-credits alert asks for the figures: without them it is posted without figures
            watch.answered("diffusion", "POST", 402, 0.1)
            assert await watch.refused(Alert.OUT_OF_CREDITS)
            assert posted == [notice_text(Notice(NO_CREDITS))]
        finally:
            await watch.stop()


async def test_refused_says_whether_the_alert_is_out(tmp_path: Path) -> None:
    accept = [False]
    nonces: list[str] = []

    async def post(text: str, nonce: str) -> bool:
        nonces.append(nonce)
        return accept[0]

    cfg = SimpleNamespace(balance_alert_points=0, balance_check_interval_s=900)
    async with Database(tmp_path / "db.sqlite3") as db:
        watch = AlertWatch(meta=MetaRepo(db), read_balance=FakeApi(50).balance, post=post, config=cfg)
        await watch.start()
        try:
            assert await watch.refused(Alert.BAD_KEY) is False  # Discord refused the post: still owed
            assert await watch.refused(Alert.BAD_KEY) is False
            accept[0] = True
            watch._retry_at = None
            await watch.flush()
            assert await watch.refused(Alert.BAD_KEY) is True  # posted before
            assert len(set(nonces)) == 1 and len(nonces) >= 2  # the tries of one alert share its nonce
        finally:
            await watch.stop()


async def test_a_stop_gives_a_post_under_way_a_few_seconds_then_leaves_it_owed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.core.alerts.STOP_GRACE_S", 0.2)
    started = asyncio.Event()

    async def post(text: str, nonce: str) -> bool:
        started.set()
        await asyncio.sleep(60)  # Discord never answers
        return True

    cfg = SimpleNamespace(balance_alert_points=0, balance_check_interval_s=900)
    async with Database(tmp_path / "db.sqlite3") as db:
        meta = MetaRepo(db)
        watch = AlertWatch(meta=meta, read_balance=FakeApi(50).balance, post=post, config=cfg)
        await watch.start()
        watch.answered("job", "GET", 401, 0.1)
        await asyncio.wait_for(started.wait(), 5)
        t0 = time.monotonic()
        await watch.stop()
        assert 0.15 < time.monotonic() - t0 < 2
        assert kinds(load_state(await meta.get(META_KEY))) == [BAD_KEY]  # owed: posted (same nonce) at the start


@pytest.mark.allow_error_logs
async def test_an_unexpected_error_in_a_check_waits_for_the_next_and_is_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reads = 0

    async def read() -> Balance:
        nonlocal reads
        reads += 1
        raise RuntimeError("something no one expected")

    async def post(text: str, nonce: str) -> bool:
        return True

    cfg = SimpleNamespace(balance_alert_points=100, balance_check_interval_s=0.05)
    async with Database(tmp_path / "db.sqlite3") as db:
        watch = AlertWatch(meta=MetaRepo(db), read_balance=read, post=post, config=cfg)
        await watch.start()
        try:
            await asyncio.sleep(0.3)
        finally:
            await watch.stop()
    assert 3 <= reads <= 8, reads
    failed = [r for r in caplog.records if r.name == "bot.core.alerts" and "watch failed" in r.getMessage()]
    assert [r.levelno for r in failed] == [logging.ERROR] + [logging.WARNING] * (len(failed) - 1)
