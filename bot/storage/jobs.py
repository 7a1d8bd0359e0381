"""Data access for the jobs table: every job the bot submits, recorded before the submit leaves the process."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

import aiosqlite

from bot.storage.database import Database
from bot.vocabulary import ACTIVE, FINISHED, UNFINISHED, UPSCALE_TASKS, JobStatus, sql_list


@dataclass(frozen=True)
class JobRecord:
    id: int
    task_type: str
    action: str
    requester_id: int
    status: str
    created_at: float
    updated_at: float
    job_id: str | None = None
    parent_job_id: str | None = None
    image_no: int | None = None
    prompt: str = ""
    request: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    reply_to_id: int | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    frozen_points: int = 0
    consumed_points: int = 0
    dedupe_key: str | None = None
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    shown_status: str | None = None
    delivered_at: float | None = None
    delivery_attempts: int = 0
    undeliverable: str | None = None
    ack_token: str | None = None
    ack_app_id: int | None = None
    posting_at: float | None = None
    reserved_points: int = 0
    queued_at: float | None = None
    queue_position: int | None = None
    requeued: bool = False
    cancelled_by: int | None = None
    sending_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def owed(self) -> bool:
        """Finished, but Discord has not accepted its final message yet (and it still can be shown)."""
        return self.finished and self.delivered_at is None and self.undeliverable is None

    @property
    def points(self) -> int:
        """What the job cost (or has frozen while it runs)."""
        return self.consumed_points or (0 if self.finished else self.frozen_points)

    @property
    def queued(self) -> bool:
        return self.status == JobStatus.QUEUED

    @staticmethod
    def from_row(row: aiosqlite.Row) -> JobRecord:
        return JobRecord(
            id=row["id"],
            job_id=row["job_id"],
            task_type=row["task_type"],
            action=row["action"],
            parent_job_id=row["parent_job_id"],
            image_no=row["image_no"],
            prompt=row["prompt"],
            request=json.loads(row["request_json"] or "{}"),
            extra=json.loads(row["extra_json"] or "{}"),
            requester_id=row["requester_id"],
            guild_id=row["guild_id"],
            channel_id=row["channel_id"],
            message_id=row["message_id"],
            reply_to_id=row["reply_to_id"],
            status=row["status"],
            output=json.loads(row["output_json"]) if row["output_json"] else None,
            error=row["error"],
            frozen_points=row["frozen_points"],
            consumed_points=row["consumed_points"],
            dedupe_key=row["dedupe_key"],
            created_at=row["created_at"],
            submitted_at=row["submitted_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            updated_at=row["updated_at"],
            shown_status=row["shown_status"],
            delivered_at=row["delivered_at"],
            delivery_attempts=row["delivery_attempts"],
            undeliverable=row["undeliverable"],
            ack_token=row["ack_token"],
            ack_app_id=row["ack_app_id"],
            posting_at=row["posting_at"],
            reserved_points=row["reserved_points"],
            queued_at=row["queued_at"],
            queue_position=row["queue_position"],
            requeued=bool(row["requeued"]),
            cancelled_by=row["cancelled_by"],
            sending_at=row["sending_at"],
        )


class RunningLimitReached(Exception):
    """The member already has `limit` unfinished jobs; nothing was recorded."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"already {limit} unfinished jobs")
        self.limit = limit


class BudgetReached(Exception):
    """Reserving the job's points would go over a daily budget; nothing was recorded."""

    def __init__(self, whose: str, limit: int, used: int) -> None:
        super().__init__(f"{whose} budget {limit}, {used} used")
        self.whose = whose  # "member" or "server"
        self.limit = limit
        self.used = used


@dataclass(frozen=True)
class Budget:
    """What recording a job must respect, checked in the same statement that records it."""

    points: int = 0  # what the job reserves
    since: float = 0.0  # the budgets' day began at this unix time
    member_daily: int = 0  # 0 = no limit
    server_daily: int = 0
    max_unfinished: int = 0  # the member's running plus queued jobs in this server; 0 = no limit


# What a job counts against a budget, by status: what it consumed once it ended (a failed or cancelled one gives
# its reservation back), else the larger of what it reserved and what the API froze.
SPENT_SQL = """(CASE
    WHEN status IN ('failed', 'cancelled') THEN consumed_points
    WHEN status = 'completed' AND consumed_points > 0 THEN consumed_points
    WHEN status = 'completed' AND frozen_points > 0 THEN frozen_points
    WHEN status = 'completed' THEN reserved_points
    ELSE MAX(reserved_points, frozen_points, consumed_points) END)"""


@dataclass(frozen=True)
class Spend:
    points: int
    jobs: int


class DuplicateJob(Exception):
    """The same button on the same image already has a live job."""

    def __init__(self, existing: JobRecord) -> None:
        super().__init__(f"already requested as job {existing.id}")
        self.existing = existing


_UPDATABLE = {
    "job_id", "status", "output", "error", "frozen_points", "consumed_points", "message_id", "channel_id",
    "submitted_at", "started_at", "finished_at", "shown_status", "extra", "request",
    "delivered_at", "delivery_attempts", "undeliverable", "ack_token", "ack_app_id", "posting_at",
    "queue_position", "requeued", "queued_at", "sending_at",
}
_UNFINISHED_SQL = sql_list(UNFINISHED)
_FINISHED_SQL = sql_list(FINISHED)
_ACTIVE_SQL = sql_list(ACTIVE)
_UPSCALE_SQL = "(" + ", ".join(f"'{t}'" for t in sorted(UPSCALE_TASKS)) + ")"  # the vocabulary's names


class JobRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock()

    async def create(
        self,
        *,
        task_type: str,
        action: str,
        requester_id: int,
        prompt: str = "",
        request: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        parent_job_id: str | None = None,
        image_no: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        reply_to_id: int | None = None,
        dedupe_key: str | None = None,
        again_after_unknown: bool = False,
        answer_to: tuple[int, str] | None = None,
        budget: Budget | None = None,
        status: JobStatus = JobStatus.SUBMITTING,
    ) -> JobRecord:
        """Record a job about to be submitted (`submitting`) or queued (`queued`), reserving its points.

        With a `dedupe_key`, raises `DuplicateJob` when a job with that key exists and has not failed (one whose
        outcome is unknown counts too, unless `again_after_unknown`: the member confirmed paying twice).
        With a `budget`, the reservation and the limits are conditions of the INSERT itself (one statement, so no
        burst of presses, nor a second process, gets between a read and a write): raises `BudgetReached` or
        `RunningLimitReached` when the job would go over.
        """
        now = time.time()
        b = budget or Budget()
        async with self._lock:
            if dedupe_key is not None:
                blocking = sql_list((JobStatus.FAILED, JobStatus.UNKNOWN, JobStatus.CANCELLED) if again_after_unknown
                                    else (JobStatus.FAILED, JobStatus.CANCELLED))
                row = await self.db.fetchone(
                    f"SELECT * FROM jobs WHERE dedupe_key = ? AND status NOT IN {blocking} ORDER BY id DESC LIMIT 1",
                    (dedupe_key,),
                )
                if row is not None:
                    raise DuplicateJob(JobRecord.from_row(row))
            app_id, token = answer_to or (None, None)
            insert = (
                f"""INSERT INTO jobs(task_type, action, parent_job_id, image_no, prompt, request_json, extra_json,
                       requester_id, guild_id, channel_id, reply_to_id, status, dedupe_key, created_at, updated_at,
                       ack_app_id, ack_token, reserved_points, queued_at)
                   SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
                   WHERE (? = 0 OR (SELECT COUNT(*) FROM jobs WHERE requester_id = ? AND guild_id IS ?
                                    AND status IN {_UNFINISHED_SQL}) < ?)
                     AND (? = 0 OR (SELECT COALESCE(SUM({SPENT_SQL}), 0) FROM jobs WHERE requester_id = ?
                                    AND guild_id IS ? AND created_at >= ?) + ? <= ?)
                     AND (? = 0 OR (SELECT COALESCE(SUM({SPENT_SQL}), 0) FROM jobs WHERE guild_id IS ?
                                    AND created_at >= ?) + ? <= ?)"""
            )
            params = (
                task_type, action, parent_job_id, image_no, prompt, json.dumps(request or {}),
                json.dumps(extra or {}), requester_id, guild_id, channel_id, reply_to_id,
                status.value, dedupe_key, now, now, app_id, token, b.points,
                now if status == JobStatus.QUEUED else None,
                b.max_unfinished, requester_id, guild_id, b.max_unfinished,
                b.member_daily, requester_id, guild_id, b.since, b.points, b.member_daily,
                b.server_daily, guild_id, b.since, b.points, b.server_daily,
            )
            rowid = await self.db.execute_if(insert, params)
            if rowid is None:
                why = await self.over_limits(requester_id, guild_id, b)
                if why is not None:
                    raise why
                # nothing holds it back any more (a job ended between the INSERT and the look): once more
                rowid = await self.db.execute_if(insert, params)
                if rowid is None:
                    raise await self.over_limits(requester_id, guild_id, b) or BudgetReached(
                        "server" if b.server_daily else "member", b.server_daily or b.member_daily, 0)
        job = await self.get(rowid)
        assert job is not None
        return job

    async def over_limits(self, member: int, guild: int | None, b: Budget) -> Exception | None:
        """The limit a job of this budget would go over (`RunningLimitReached` or `BudgetReached`), else None: why
        the INSERT was held back, or an early look before anything is recorded."""
        if b.max_unfinished and await self.unfinished_count(member, guild) >= b.max_unfinished:
            return RunningLimitReached(b.max_unfinished)
        if b.member_daily:
            mine = (await self.spent(since=b.since, guild_id=guild, member_id=member)).points
            if mine + b.points > b.member_daily:
                return BudgetReached("member", b.member_daily, mine)
        if b.server_daily:
            server = (await self.spent(since=b.since, guild_id=guild)).points
            if server + b.points > b.server_daily:
                return BudgetReached("server", b.server_daily, server)
        return None

    # ------------------------------------------------------------------------------------------------ the queue

    async def queued(self) -> list[JobRecord]:
        rows = await self.db.fetchall("SELECT * FROM jobs WHERE status = 'queued' ORDER BY id")
        return [JobRecord.from_row(r) for r in rows]

    async def active_count(self) -> int:
        """Jobs sent (or being sent) to the API and not finished: what `legnext.concurrency` bounds."""
        row = await self.db.fetchone(f"SELECT COUNT(*) FROM jobs WHERE status IN {_ACTIVE_SQL}")
        return int(row[0]) if row else 0

    async def active_by_member(self) -> dict[tuple[int, int | None], int]:
        rows = await self.db.fetchall(
            f"SELECT requester_id, guild_id, COUNT(*) AS n FROM jobs WHERE status IN {_ACTIVE_SQL}"
            " GROUP BY requester_id, guild_id")
        return {(int(r["requester_id"]), r["guild_id"]): int(r["n"]) for r in rows}

    async def last_served(self, members: list[tuple[int, int | None]]) -> dict[tuple[int, int | None], float]:
        """When each member's latest job was sent to the API (the fair queue serves the longest-waiting first)."""
        out: dict[tuple[int, int | None], float] = {}
        for member, guild in members:
            row = await self.db.fetchone(
                "SELECT MAX(submitted_at) FROM jobs WHERE requester_id = ? AND guild_id IS ?", (member, guild))
            if row is not None and row[0] is not None:
                out[(member, guild)] = float(row[0])
        return out

    async def claim(self, local_id: int) -> JobRecord | None:
        """Take a queued job out of the queue to send it now (None when it was cancelled meanwhile)."""
        changed = await self.db.execute_count(
            "UPDATE jobs SET status = 'submitting', requeued = 0, updated_at = ? WHERE id = ? AND status = 'queued'",
            (time.time(), local_id))
        return await self.get(local_id) if changed else None

    async def requeue(self, local_id: int) -> JobRecord:
        """The API answered 429 before accepting it: back at the head of the queue, nothing was charged."""
        await self.db.execute(
            "UPDATE jobs SET status = 'queued', requeued = 1, queued_at = COALESCE(queued_at, ?), updated_at = ?,"
            " sending_at = NULL WHERE id = ? AND status = 'submitting'", (time.time(), time.time(), local_id))
        job = await self.get(local_id)
        assert job is not None
        return job

    async def cancel(self, local_id: int, by: int) -> JobRecord | None:
        """Cancel a queued job (None when it is no longer queued: sent or cancelled already)."""
        now = time.time()
        changed = await self.db.execute_count(
            "UPDATE jobs SET status = 'cancelled', cancelled_by = ?, finished_at = ?, updated_at = ?,"
            " queue_position = NULL WHERE id = ? AND status = 'queued'", (by, now, now, local_id))
        return await self.get(local_id) if changed else None

    # ------------------------------------------------------------------------------------------------ spending

    async def spent(self, *, since: float, guild_id: int | None, member_id: int | None = None,
                    until: float | None = None) -> Spend:
        """Points spent (reserved while running) by a member, or the whole server, on jobs made since `since`."""
        # jobs counted: those sent, or waiting to be (not the ones the API refused at once)
        sql = (f"SELECT COALESCE(SUM({SPENT_SQL}), 0), COALESCE(SUM(job_id IS NOT NULL OR status IN {_UNFINISHED_SQL}),"
               " 0) FROM jobs WHERE guild_id IS ? AND created_at >= ?")
        params: list[Any] = [guild_id, since]
        if member_id is not None:
            sql += " AND requester_id = ?"
            params.append(member_id)
        if until is not None:
            sql += " AND created_at < ?"
            params.append(until)
        sql += " AND status != 'cancelled'"
        row = await self.db.fetchone(sql, tuple(params))
        return Spend(int(row[0]), int(row[1])) if row else Spend(0, 0)

    async def top_spenders(self, *, since: float, guild_id: int | None, limit: int = 5) -> list[tuple[int, int]]:
        rows = await self.db.fetchall(
            f"SELECT requester_id, SUM({SPENT_SQL}) AS points FROM jobs WHERE guild_id IS ? AND created_at >= ?"
            " GROUP BY requester_id HAVING points > 0 ORDER BY points DESC, requester_id LIMIT ?",
            (guild_id, since, limit))
        return [(int(r["requester_id"]), int(r["points"])) for r in rows]

    async def unfinished_of(self, member_id: int, guild_id: int | None) -> list[JobRecord]:
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE requester_id = ? AND guild_id IS ? AND status IN {_UNFINISHED_SQL}"
            " ORDER BY id", (member_id, guild_id))
        return [JobRecord.from_row(r) for r in rows]

    async def unfinished_count(self, member_id: int, guild_id: int | None) -> int:
        row = await self.db.fetchone(
            f"SELECT COUNT(*) FROM jobs WHERE requester_id = ? AND guild_id IS ? AND status IN {_UNFINISHED_SQL}",
            (member_id, guild_id))
        return int(row[0]) if row else 0

    async def update(self, local_id: int, **changes: Any) -> JobRecord:
        bad = set(changes) - _UPDATABLE
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        cols: list[str] = []
        params: list[Any] = []
        for key, value in changes.items():
            if key in ("output", "extra", "request"):
                cols.append(f"{key}_json = ?")
                params.append(None if value is None else json.dumps(value))
            else:
                cols.append(f"{key} = ?")
                params.append(value)
        cols.append("updated_at = ?")
        params.append(time.time())
        params.append(local_id)
        await self.db.execute(f"UPDATE jobs SET {', '.join(cols)} WHERE id = ?", tuple(params))
        job = await self.get(local_id)
        if job is None:
            raise KeyError(local_id)
        return job

    async def get(self, local_id: int) -> JobRecord | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE id = ?", (local_id,))
        return None if row is None else JobRecord.from_row(row)

    async def by_job_id(self, job_id: str) -> JobRecord | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
        return None if row is None else JobRecord.from_row(row)

    async def by_message(self, message_id: int) -> JobRecord | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE message_id = ? ORDER BY id DESC LIMIT 1", (message_id,))
        return None if row is None else JobRecord.from_row(row)

    async def by_dedupe_key(self, key: str) -> JobRecord | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE dedupe_key = ? ORDER BY id DESC LIMIT 1", (key,))
        return None if row is None else JobRecord.from_row(row)

    async def upscale_message(self, grid_job_id: str, image_no: int) -> int | None:
        """The message showing the upscale of image `image_no` of `grid_job_id` (its buttons act on the grid)."""
        row = await self.db.fetchone(
            f"SELECT message_id FROM jobs WHERE parent_job_id = ? AND image_no = ? AND task_type IN {_UPSCALE_SQL}"
            " AND message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            (grid_job_id, image_no),
        )
        return None if row is None else int(row["message_id"])

    async def unfinished(self) -> list[JobRecord]:
        """Jobs sent (or being sent) to the API and not finished; queued ones are the queue's (`queued()`)."""
        rows = await self.db.fetchall(f"SELECT * FROM jobs WHERE status IN {_ACTIVE_SQL} ORDER BY id")
        return [JobRecord.from_row(r) for r in rows]

    async def owed(self) -> list[JobRecord]:
        """Finished jobs whose final message Discord has not accepted yet."""
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE delivered_at IS NULL AND undeliverable IS NULL AND status IN {_FINISHED_SQL}"
            " ORDER BY id"
        )
        return [JobRecord.from_row(r) for r in rows]

    async def late_checks(self, since: float) -> list[JobRecord]:
        """Jobs the API accepted whose outcome is unknown (the bot stopped waiting), made after `since`."""
        rows = await self.db.fetchall(
            "SELECT * FROM jobs WHERE status = ? AND job_id IS NOT NULL AND created_at > ? ORDER BY id",
            (JobStatus.UNKNOWN.value, since),
        )
        return [JobRecord.from_row(r) for r in rows]

    async def count_by_status_and_task(self) -> list[tuple[str, str, int]]:
        rows = await self.db.fetchall("SELECT status, task_type, COUNT(*) AS n FROM jobs GROUP BY status, task_type")
        return [(str(r["status"]), str(r["task_type"]), int(r["n"])) for r in rows]

    async def undeliverable_count(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) FROM jobs WHERE undeliverable IS NOT NULL")
        return int(row[0]) if row else 0

    async def unacknowledged(self) -> list[JobRecord]:
        """Jobs whose member still sees "thinking…" (the bot stopped before answering them)."""
        rows = await self.db.fetchall("SELECT * FROM jobs WHERE ack_token IS NOT NULL ORDER BY id")
        return [JobRecord.from_row(r) for r in rows]

    async def all(self) -> list[JobRecord]:
        return [JobRecord.from_row(r) for r in await self.db.fetchall("SELECT * FROM jobs ORDER BY id")]


__all__ = [
    "FINISHED", "UNFINISHED", "Budget", "BudgetReached", "DuplicateJob", "JobRecord", "JobRepo",
    "RunningLimitReached", "Spend", "replace",
]
