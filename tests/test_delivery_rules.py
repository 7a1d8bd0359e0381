"""The delivery and submit rules a cold review found holes in, each pinned without Discord where possible."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import discord
import httpx
import pytest

from bot.config import JobsConfig
from bot.core.delivery import Delivery, DeliveryFailed
from bot.core.errors import user_message
from bot.core.tracker import Tracker
from bot.legnext import errors as api
from bot.legnext import models as m
from bot.legnext.client import LegnextClient
from bot.storage.database import Database, migrations
from bot.storage.jobs import JobRecord, JobRepo
from bot.ui.presenter import Presenter


@pytest.mark.parametrize("body", ["<html>ok</html>", '{"status": "pending"}'])
async def test_an_unreadable_2xx_submit_answer_is_an_unknown_outcome(body: str) -> None:
    """Accepted (2xx) but no job id or no JSON: the job may exist and be billed; never "try again"."""
    transport = httpx.MockTransport(lambda req: httpx.Response(200, text=body))
    async with httpx.AsyncClient(transport=transport) as http:
        client = LegnextClient(base_url="https://api.legnext.ai/api", api_key="k" * 20, http=http)
        with pytest.raises(api.SubmitOutcomeUnknown) as caught:
            await client.submit(m.Diffusion(text="a cat"))
    assert "try again" not in user_message(caught.value).lower()


class StubApi:
    def __init__(self, job: m.Job) -> None:
        self.job = job

    async def get_job(self, job_id: str) -> m.Job:
        return self.job


async def test_a_job_already_processing_at_submit_still_times_out(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3") as db:
        repo = JobRepo(db)
        job = await repo.create(task_type="diffusion", action="imagine", requester_id=1, channel_id=2)
        now = time.time()
        job = await repo.update(job.id, job_id="J1", status="processing", submitted_at=now - 120)
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 120))
        api_job = m.Job.model_validate({"job_id": "J1", "status": "processing", "meta": {"started_at": started}})
        shown: list[tuple[str, bool]] = []

        async def show(j: JobRecord, final: bool) -> None:
            shown.append((j.status, final))

        tracker = Tracker(StubApi(api_job), repo, JobsConfig(timeout_image_s=10), show)  # type: ignore[arg-type]
        await tracker._poll(job.id)
        after = await repo.get(job.id)
        assert after is not None and after.status == "unknown"
        assert shown == [("unknown", True)]


async def test_the_first_failure_after_a_long_downtime_is_retried_not_given_up(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3") as db:
        repo = JobRepo(db)
        job = await repo.create(task_type="diffusion", action="imagine", requester_id=1, channel_id=2)
        job = await repo.update(job.id, job_id="J1", status="completed", finished_at=time.time() - 2 * 86400)

        async def attempt(j: JobRecord, links_only: bool) -> None:
            raise DeliveryFailed("Discord answered 503 (code 0)")

        delivery = Delivery(repo, JobsConfig(), attempt)
        await delivery._deliver(job.id)
        after = await repo.get(job.id)
        assert after is not None and after.undeliverable is None and after.delivery_attempts == 1
        await delivery.stop()


class RateLimitedResponse:
    status = 429
    reason = "Too Many Requests"
    headers: ClassVar[dict[str, str]] = {"Retry-After": "3600"}


def test_a_429_discord_py_did_not_wait_out_is_waited_out_by_delivery() -> None:
    e = discord.HTTPException(RateLimitedResponse(), "error code: 1015")  # type: ignore[arg-type]
    err = Presenter._delivery_error(e, had_files=True)
    assert isinstance(err, DeliveryFailed) and err.retry_after == 3600


async def test_migration_2_owes_recent_unshown_results_and_counts_old_ones(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.storage.database as database_module

    path = tmp_path / "old.sqlite3"
    real = migrations()
    monkeypatch.setattr(database_module, "migrations", lambda: real[:1])  # a database of the previous release
    now = time.time()
    rows: list[tuple[Any, ...]] = [
        # job_id, status, shown_status, updated_at
        ("shown", "completed", "completed", now),
        ("recent", "completed", "processing", now - 60),
        ("old", "completed", "processing", now - 3 * 86400),
        (None, "failed", None, now),  # refused at submit: told ephemerally
    ]
    async with Database(path) as db:
        for job_id, status, shown, updated in rows:
            await db.execute(
                "INSERT INTO jobs(job_id, task_type, action, requester_id, status, shown_status, created_at,"
                " updated_at) VALUES (?, 'diffusion', 'imagine', 1, ?, ?, ?, ?)",
                (job_id, status, shown, updated, updated))
    monkeypatch.setattr(database_module, "migrations", lambda: real)
    async with Database(path) as db:
        repo = JobRepo(db)
        assert [j.job_id for j in await repo.owed()] == ["recent"]
        assert await repo.undeliverable_count() == 1
        old = next(j for j in await repo.all() if j.job_id == "old")
        assert old.undeliverable and old.delivered_at is None
