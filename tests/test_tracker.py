from __future__ import annotations

import asyncio
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.config import JobsConfig
from bot.core.tracker import EXPECTED_S, Tracker, apply_api_job, next_interval
from bot.legnext.client import LegnextClient
from bot.legnext.models import Job
from bot.legnext.simulator import running_simulator
from bot.storage.database import Database
from bot.storage.jobs import JobRecord, JobRepo

CFG = JobsConfig(poll_min_s=2.0, poll_max_s=15.0)


def test_cadence_is_slow_at_first_and_fast_near_the_expected_end() -> None:
    first = next_interval("diffusion", 0.0, CFG)
    near_end = next_interval("diffusion", EXPECTED_S["diffusion"] - 3, CFG)
    assert first == CFG.poll_max_s
    assert near_end == CFG.poll_min_s
    # long videos are polled rarely while running
    assert next_interval("video_diffusion", 10.0, CFG) == CFG.poll_max_s
    # a queued job (not started) is not polled at the fastest rate
    assert next_interval("diffusion", None, CFG) > CFG.poll_min_s
    # overdue jobs are polled less and less often
    assert next_interval("diffusion", 400.0, CFG) > next_interval("diffusion", 45.0, CFG)


@given(task=st.sampled_from([*EXPECTED_S, "something_new"]),
       running=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_cadence_always_within_bounds(task: str, running: float | None) -> None:
    assert CFG.poll_min_s <= next_interval(task, running, CFG) <= CFG.poll_max_s


def test_unknown_status_counts_as_running_and_failure_is_status_failed() -> None:
    weird = apply_api_job(Job.model_validate({"job_id": "x", "status": "warming_up", "error": {"code": 0}}))
    assert weird["status"] == "processing"
    ok = apply_api_job(Job.model_validate({
        "job_id": "x", "status": "completed", "error": {"code": 0, "message": ""},
        "output": {"image_url": "http://a/b.png", "seed": 12}, "meta": {"usage": {"frozen": 80, "consume": 80}}}))
    assert ok["status"] == "completed" and ok["consumed_points"] == 80 and ok["output"]["seed"] == "12"
    failed = apply_api_job(Job.model_validate({
        "job_id": "x", "status": "failed", "error": {"code": 500, "message": "task failed", "raw_message": "nsfw"}}))
    assert failed["status"] == "failed" and failed["error"] == "nsfw"


async def _tracked_job(repo: JobRepo, api: LegnextClient, prompt: str) -> JobRecord:
    job = await repo.create(task_type="diffusion", action="imagine", requester_id=1, prompt=prompt, channel_id=2)
    api_job = await api.diffusion(prompt)
    return await repo.update(job.id, job_id=api_job.job_id, status="pending", submitted_at=job.created_at)


async def test_tracker_follows_a_job_to_the_end_and_shows_each_change(tmp_path: Path) -> None:
    shown: list[tuple[str, bool]] = []

    async def show(job: JobRecord, final: bool) -> None:
        shown.append((job.status, final))

    cfg = JobsConfig(poll_min_s=0.02, poll_max_s=0.05)
    async with running_simulator(durations={"diffusion": 0.5}) as sim, Database(tmp_path / "t.db") as db:
        sim.pending_for = 0.5
        async with LegnextClient(base_url=sim.base_url, api_key="k", backoff_base_s=0.01) as api:
            repo = JobRepo(db)
            tracker = Tracker(api, repo, cfg, show)
            await tracker.start()
            job = await _tracked_job(repo, api, "a cat")
            tracker.track(job)
            for _ in range(200):
                if shown and shown[-1][1]:
                    break
                await asyncio.sleep(0.02)
            await tracker.stop()
            final = await repo.get(job.id)
    assert final is not None and final.status == "completed"
    assert final.output and len(final.output["image_urls"]) == 4
    assert shown[-1] == ("completed", True)
    assert ("processing", False) in shown
    assert tracker.tracked == 0


async def test_tracker_honours_retry_after_and_times_out_stuck_jobs(tmp_path: Path) -> None:
    shown: list[JobRecord] = []

    async def show(job: JobRecord, final: bool) -> None:
        if final:
            shown.append(job)

    cfg = JobsConfig(poll_min_s=0.02, poll_max_s=0.05, timeout_image_s=0.6)
    # the time-out counts from when the API started the job: a short wait in its queue first
    async with running_simulator(durations={"diffusion": 1.0}) as sim, Database(tmp_path / "t.db") as db:
        async with LegnextClient(base_url=sim.base_url, api_key="k", read_retries=0) as api:
            repo = JobRepo(db)
            tracker = Tracker(api, repo, cfg, show)
            await tracker.start()
            sim.keep_stuck()
            job = await _tracked_job(repo, api, "stuck")
            sim.inject_error(429, "slow down", count=1, method="GET", retry_after=0.3)
            gets_before = sim.count("GET")
            tracker.track(job, delay=0.0)
            await asyncio.sleep(0.25)
            # one 429, then the tracker waits out Retry-After instead of polling every 20 ms
            assert sim.count("GET") - gets_before == 1
            for _ in range(100):
                if shown:
                    break
                await asyncio.sleep(0.05)
            await tracker.stop()
    assert shown, "a stuck job must end"
    # the API still has it (it may finish and be charged after all): its outcome is unknown, not "failed"
    assert shown[0].status == "unknown"
    assert "did not finish within" in (shown[0].error or "")


async def test_restart_marks_half_submitted_jobs_unknown(tmp_path: Path) -> None:
    shown: list[JobRecord] = []

    async def show(job: JobRecord, final: bool) -> None:
        shown.append(job)

    async with Database(tmp_path / "t.db") as db:
        repo = JobRepo(db)
        half = await repo.create(task_type="diffusion", action="imagine", requester_id=1, prompt="x", channel_id=2)
        half = await repo.update(half.id, sending_at=time.time())  # its submit had left the bot
        # taken from the queue, but the bot stopped before its submit left: back in the queue, nothing was sent
        unsent = await repo.create(task_type="diffusion", action="imagine", requester_id=1, prompt="y", channel_id=2)
        async with LegnextClient(base_url="http://127.0.0.1:9", api_key="k") as api:
            tracker = Tracker(api, repo, CFG, show)
            await tracker.start()
            await tracker.stop()
        again = await repo.get(half.id)
        back = await repo.get(unsent.id)
    assert again is not None and again.status == "unknown"
    assert shown and shown[0].id == half.id and len(shown) == 1
    assert back is not None and back.status == "queued" and back.requeued
