"""The core's limits rules without Discord: limits merged with a server's changes, who may start jobs where, banned
words, the UTC day, the fair queue's order, the cost table, and the one-statement reservation in SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import LimitsConfig
from bot.core.costs import points_for, video_points
from bot.core.limits import (
    BannedWord,
    Limits,
    NotPermitted,
    Paused,
    Waiting,
    banned_word_in,
    check_allowed,
    day_start,
    fair_order,
    prompts_of,
    until_reset,
)
from bot.storage.database import Database
from bot.storage.jobs import Budget, BudgetReached, JobRepo, RunningLimitReached
from bot.storage.limits import LimitsRepo


def test_a_servers_changes_override_the_files_defaults_and_nothing_else() -> None:
    defaults = LimitsConfig(running_per_member=3, banned_words=["gore"], allowed_role_ids=[5])
    limits = Limits.of(defaults, {"running_per_member": 7, "paused": True, "banned_words": [],
                                  "allowed_role_ids": [], "queued_per_member": "lots", "bogus": 1})
    assert limits.running_per_member == 7 and limits.paused is True
    assert limits.banned_words == ("gore",) and limits.allowed_role_ids == {5}  # not changeable by /limits
    assert limits.queued_per_member == 10  # an ill-typed value is ignored
    assert limits.unfinished_per_member == 17
    assert Limits.of(defaults, {"paused": 1}).paused is False  # an int is not a bool


def test_who_may_start_jobs_where() -> None:
    limits = Limits(allowed_role_ids=frozenset({1}), allowed_channel_ids=frozenset({10}))
    check_allowed(limits, is_moderator=False, roles=[1, 2], channel_ids=[10])
    check_allowed(limits, is_moderator=False, roles=[1], channel_ids=[99, 10])  # a thread of an allowed channel
    with pytest.raises(NotPermitted, match="certain roles"):
        check_allowed(limits, is_moderator=False, roles=[2], channel_ids=[10])
    with pytest.raises(NotPermitted, match="<#10>"):
        check_allowed(limits, is_moderator=False, roles=[1], channel_ids=[11])
    check_allowed(limits, is_moderator=True, roles=[], channel_ids=[11])
    with pytest.raises(Paused):
        check_allowed(Limits(paused=True), is_moderator=False, roles=[], channel_ids=[])
    check_allowed(Limits(paused=True), is_moderator=True, roles=[], channel_ids=[])


@pytest.mark.parametrize(("text", "found"), [
    ("a GORE scene", "gore"),
    ("gore", "gore"),
    ("(gore)", "gore"),
    ("a gorgeous scene", None),
    ("gored", None),
    ("g\u200bore", "gore"),  # an invisible character doesn't hide it
    ("ｇｏｒｅ", "gore"),  # nor full-width letters
    ("góre", "gore"),  # nor an accent
    ("a blood\n  moon", "blood moon"),
    ("a bloodmoon", None),
    ("", None),
])
def test_banned_words_are_whole_words_in_any_case(text: str, found: str | None) -> None:
    assert banned_word_in(["gore", "blood moon"], [text]) == found


def test_the_prompts_of_a_request() -> None:
    assert prompts_of({"text": "a", "jobId": "x", "remixPrompt": "b", "prompt": "c", "callback": "http://x"}) == [
        "a", "c", "b"]


def test_the_utc_day() -> None:
    noon = 1_700_000_000 - 1_700_000_000 % 86400 + 12 * 3600
    assert day_start(noon) == noon - 12 * 3600
    assert until_reset(noon) == "in 12 h 0 min"
    assert until_reset(noon + 12 * 3600 - 30) == "in 1 min"


def test_fair_order_takes_members_in_turn_longest_waiting_first() -> None:
    a, b, c = 1, 2, 3
    waiting = [Waiting(10, a, 9), Waiting(11, a, 9), Waiting(12, a, 9), Waiting(13, b, 9), Waiting(14, c, 9),
               Waiting(15, b, 9)]
    # a was served a moment ago, c long ago, b never
    assert fair_order(waiting, {(a, 9): 100.0, (c, 9): 50.0}) == [13, 14, 10, 15, 11, 12]
    # a job put back after a 429 goes first
    assert fair_order([*waiting[:2], Waiting(16, c, 9, requeued=True)], {}) == [16, 10, 11]
    # the same member in two servers has two lanes
    assert fair_order([Waiting(1, a, 1), Waiting(2, a, 1), Waiting(3, a, 2)], {}) == [1, 3, 2]
    assert fair_order([], {}) == []


def test_costs_follow_the_cost_table() -> None:
    assert points_for("diffusion", {"text": "a cat"}) == 80
    assert points_for("diffusion", {"text": "a cat --draft --v 7"}) == 40
    assert points_for("diffusion", {"text": "a cat --turbo"}) == 160
    assert points_for("upscale", {"jobId": "g", "imageNo": 0, "type": 0}) == 120
    assert points_for("upscale", {"jobId": "g", "imageNo": 0, "type": 1}) == 160
    assert points_for("variation", {"jobId": "g", "imageNo": 0, "type": 1}, "a cat --turbo") == 240
    assert points_for("describe", {"imgUrl": "https://x/a.png"}) == 20
    assert points_for("video_diffusion", {"jobId": "g", "imageNo": 0, "prompt": "a --motion low"}) == 480
    # the cost table's video figure is for the API's default batch of four clips
    assert points_for("video_diffusion", {"prompt": "https://x/a.png a --bs 4", "videoType": 1}) == 1536
    assert points_for("video_diffusion", {"prompt": "https://x/a.png a --bs 1"}) == 120
    assert video_points(1, 2) == 768


async def _db(tmp_path: Path) -> Database:
    db = Database(str(tmp_path / "t.sqlite3"))
    await db.open()
    return db


async def test_the_reservation_is_one_statement_that_never_overspends(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        # two repositories on one file, as two processes would be: no lock is shared between them
        repos = [JobRepo(db), JobRepo(db)]
        budget = Budget(points=80, since=0.0, member_daily=10_000, server_daily=400, max_unfinished=100)

        async def one(i: int) -> bool:
            try:
                await repos[i % 2].create(task_type="diffusion", action="imagine", requester_id=i % 7, guild_id=5,
                                          budget=budget)
                return True
            except BudgetReached as e:
                assert e.whose == "server" and e.limit == 400
                return False

        made = await asyncio.gather(*[one(i) for i in range(50)])
        assert sum(made) == 5
        row = await db.fetchone("SELECT SUM(reserved_points) FROM jobs")
        assert row is not None and row[0] == 400
        # a failed job gives its points back; a cancelled one too
        jobs = await repos[0].all()
        await repos[0].update(jobs[0].id, status="failed", consumed_points=0)
        assert (await repos[0].spent(since=0.0, guild_id=5)).points == 320
        assert await one(100)
        # the member's own cap of unfinished jobs
        await repos[0].create(task_type="diffusion", action="imagine", requester_id=99, guild_id=6,
                              budget=Budget(max_unfinished=1))
        with pytest.raises(RunningLimitReached):
            await repos[0].create(task_type="diffusion", action="imagine", requester_id=99, guild_id=6,
                                  budget=Budget(max_unfinished=1))
    finally:
        await db.close()


async def test_member_budget_and_completed_jobs_count_what_they_consumed(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        repo = JobRepo(db)
        budget = Budget(points=80, member_daily=200)
        first = await repo.create(task_type="diffusion", action="imagine", requester_id=1, guild_id=5, budget=budget)
        await repo.create(task_type="diffusion", action="imagine", requester_id=1, guild_id=5, budget=budget)
        with pytest.raises(BudgetReached) as e:
            await repo.create(task_type="diffusion", action="imagine", requester_id=1, guild_id=5, budget=budget)
        assert (e.value.whose, e.value.used) == ("member", 160)
        # completed for less than reserved (the API's consume wins): room for one more
        await repo.update(first.id, status="completed", consumed_points=20)
        await repo.create(task_type="diffusion", action="imagine", requester_id=1, guild_id=5, budget=budget)
        assert (await repo.spent(since=0.0, guild_id=5, member_id=1)).points == 180
        assert await repo.top_spenders(since=0.0, guild_id=5) == [(1, 180)]
    finally:
        await db.close()


async def test_limits_repo_merges_changes(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        repo = LimitsRepo(db)
        assert await repo.get(5) == {}
        await repo.update(5, {"paused": True}, by=1)
        assert await repo.update(5, {"running_per_member": 2}, by=2) == {"paused": True, "running_per_member": 2}
        assert await repo.get(6) == {} and await repo.get(None) == {}
    finally:
        await db.close()


def test_banned_word_sentence_names_the_word() -> None:
    assert "**gore**" in BannedWord("gore").sentence
