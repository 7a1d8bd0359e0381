"""Where a member (or a server) stands: points spent today, in the last 7 days and in all, jobs running and
waiting, against the server's limits. Reads only; no Discord."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.core.limits import DAY_S, Limits, day_start
from bot.storage.jobs import JobRecord, JobRepo, Spend

WEEK_DAYS = 7


@dataclass(frozen=True)
class Usage:
    today: Spend
    week: Spend  # the last 7 UTC days, today included
    total: Spend
    running: list[JobRecord]  # sent to the API and not finished
    queued: list[JobRecord]


@dataclass(frozen=True)
class ServerUsage:
    today: Spend
    week: Spend
    total: Spend
    top_today: list[tuple[int, int]]  # (member id, points)
    top_week: list[tuple[int, int]]


async def member_usage(repo: JobRepo, guild_id: int | None, member_id: int, now: float | None = None) -> Usage:
    now = time.time() if now is None else now
    today = day_start(now)
    unfinished = await repo.unfinished_of(member_id, guild_id)
    return Usage(
        today=await repo.spent(since=today, guild_id=guild_id, member_id=member_id),
        week=await repo.spent(since=today - (WEEK_DAYS - 1) * DAY_S, guild_id=guild_id, member_id=member_id),
        total=await repo.spent(since=0.0, guild_id=guild_id, member_id=member_id),
        running=[j for j in unfinished if not j.queued],
        queued=sorted((j for j in unfinished if j.queued), key=lambda j: (j.queue_position or 10**9, j.id)),
    )


async def server_usage(repo: JobRepo, guild_id: int | None, now: float | None = None) -> ServerUsage:
    now = time.time() if now is None else now
    today = day_start(now)
    week = today - (WEEK_DAYS - 1) * DAY_S
    return ServerUsage(
        today=await repo.spent(since=today, guild_id=guild_id),
        week=await repo.spent(since=week, guild_id=guild_id),
        total=await repo.spent(since=0.0, guild_id=guild_id),
        top_today=await repo.top_spenders(since=today, guild_id=guild_id),
        top_week=await repo.top_spenders(since=week, guild_id=guild_id),
    )


def left_today(limits: Limits, mine: Spend, server: Spend) -> tuple[int | None, int | None]:
    """Points the member and the server may still spend today (None = no limit)."""
    member = max(0, limits.member_daily_points - mine.points) if limits.member_daily_points else None
    whole = max(0, limits.server_daily_points - server.points) if limits.server_daily_points else None
    return member, whole
