"""The job tracker: one scheduler that follows every unfinished job until it ends.

Started at boot from the database, so a restart loses nothing. Each job is polled on a cadence that fits its task
(little in the first seconds of a long job, more often near its expected end), with backoff on errors and
`Retry-After` honoured on 429. A job past its task's time-out is failed with a reason. Every change is written to the
database first and shown after (through `show`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.config import JobsConfig
from bot.legnext.client import LegnextClient
from bot.legnext.errors import LegnextError, NotFound, RateLimited
from bot.legnext.models import Job
from bot.repo import JobRecord, JobRepo

log = logging.getLogger(__name__)

Show = Callable[[JobRecord, bool], Awaitable[None]]

# Typical durations (legnext-notes.md): the cadence aims its polls around these.
EXPECTED_S: dict[str, float] = {
    "diffusion": 40, "variation": 45, "reroll": 40, "blend": 45, "remix": 50, "edit": 60,
    "upscale": 60, "pan": 90, "outpaint": 90, "inpaint": 90, "enhance": 45,
    "describe": 8, "shorten": 6, "retexture": 60, "remove_background": 20, "upload_paint": 60,
    "enhance_upscale": 60, "video_diffusion": 180, "extend_video": 180, "video_upscale": 300,
}
VIDEO = frozenset({"video_diffusion", "extend_video", "video_upscale"})
TEXT = frozenset({"describe", "shorten"})


def expected_duration(task_type: str) -> float:
    return EXPECTED_S.get(task_type, 60.0)


def next_interval(task_type: str, running_for: float | None, cfg: JobsConfig) -> float:
    """Seconds until the next poll of a job that has been processing for `running_for` seconds.

    A job not started yet (queued behind the account's concurrent jobs) is polled at a third of its expected
    duration; a running one at half its expected remaining time, never faster than `poll_min_s`; an overdue one
    less and less often. Always within [poll_min_s, poll_max_s].
    """
    expected = expected_duration(task_type)
    if running_for is None:
        interval = expected / 3
    else:
        remaining = expected - running_for
        interval = remaining / 2 if remaining > 0 else cfg.poll_min_s * (1 + (-remaining) / expected)
    return min(cfg.poll_max_s, max(cfg.poll_min_s, interval))


def timeout_for(task_type: str, cfg: JobsConfig) -> float:
    if task_type in VIDEO:
        return cfg.timeout_video_s
    if task_type in TEXT:
        return cfg.timeout_text_s
    return cfg.timeout_image_s


def human_duration(seconds: float) -> str:
    if seconds < 120:
        n = max(1, round(seconds))
        return f"{n} second{'s' if n != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"


def apply_api_job(api_job: Job) -> dict[str, Any]:
    """The record changes a job object from the API implies."""
    now = time.time()
    changes: dict[str, Any] = {}
    if api_job.completed:
        changes.update(status="completed", output=api_job.output.model_dump(mode="json", exclude_none=True)
                       if api_job.output else {}, finished_at=now,
                       consumed_points=api_job.usage.consume or api_job.usage.frozen)
    elif api_job.failed:
        changes.update(status="failed", error=api_job.error_text or "the job failed", finished_at=now,
                       consumed_points=api_job.usage.consume)
    else:
        # unknown statuses count as still running
        status = api_job.status if api_job.status in ("pending", "staged", "processing") else "processing"
        changes.update(status=status)
        if status == "processing":
            started = api_job.meta.started_at.timestamp() if api_job.meta and api_job.meta.started_at else now
            changes["started_at"] = min(started, now)
    if api_job.usage.frozen:
        changes["frozen_points"] = api_job.usage.frozen
    return changes


class Tracker:
    def __init__(self, api: LegnextClient, repo: JobRepo, cfg: JobsConfig, show: Show, *, concurrency: int = 8) -> None:
        self.api = api
        self.repo = repo
        self.cfg = cfg
        self.show = show
        self._heap: list[tuple[float, int]] = []
        self._due: dict[int, float] = {}  # local id -> when its next poll is due
        self._errors: dict[int, int] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._sem = asyncio.Semaphore(concurrency)
        self.polls = 0  # API reads made (for the benchmark)

    # ---------------------------------------------------------------------------------------------------- control

    async def start(self) -> None:
        """Pick up every unfinished job in the database, then run."""
        resumed = 0
        for job in await self.repo.unfinished():
            if job.status == "submitting" or not job.job_id:
                # The process died between recording and the API's answer: the job may exist; never resubmit.
                job = await self.repo.update(
                    job.id, status="unknown", finished_at=time.time(),
                    error="the bot stopped while submitting this job, so whether it started is unknown",
                )
                await self._show(job, True)
                continue
            self.track(job, delay=0.0)
            resumed += 1
        if resumed:
            log.info("resumed tracking %d unfinished jobs", resumed)
        self._task = asyncio.create_task(self._loop(), name="job-tracker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for t in list(self._running):
            t.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def track(self, job: JobRecord, delay: float | None = None) -> None:
        """Follow `job` until it finishes. Safe to call twice."""
        if job.finished or not job.job_id:
            return
        if delay is None:
            delay = next_interval(job.task_type, None, self.cfg)
        self._schedule(job.id, time.monotonic() + delay)

    def poke(self, local_id: int) -> None:
        """Poll this job now (e.g. a callback said it changed)."""
        if local_id in self._due:
            self._schedule(local_id, time.monotonic())

    @property
    def tracked(self) -> int:
        return len(self._due)

    # ---------------------------------------------------------------------------------------------------- loop

    def _schedule(self, local_id: int, when: float) -> None:
        self._due[local_id] = when
        heapq.heappush(self._heap, (when, local_id))
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            now = time.monotonic()
            while self._heap and (self._heap[0][1] not in self._due or self._due[self._heap[0][1]] != self._heap[0][0]):
                heapq.heappop(self._heap)  # stale entry
            if not self._heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            when, local_id = self._heap[0]
            if when > now:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), when - now)
                continue
            heapq.heappop(self._heap)
            del self._due[local_id]
            await self._sem.acquire()
            task = asyncio.create_task(self._poll_guarded(local_id), name=f"poll-{local_id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _poll_guarded(self, local_id: int) -> None:
        try:
            await self._poll(local_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tracking job %d failed; retrying later", local_id)
            self._schedule(local_id, time.monotonic() + self.cfg.poll_max_s)
        finally:
            self._sem.release()

    async def _poll(self, local_id: int) -> None:
        job = await self.repo.get(local_id)
        if job is None or job.finished or not job.job_id:
            return
        elapsed = time.time() - (job.submitted_at or job.created_at)
        try:
            self.polls += 1
            api_job = await self.api.get_job(job.job_id)
        except NotFound:
            job = await self.repo.update(job.id, status="failed", finished_at=time.time(),
                                         error="Legnext no longer knows this job")
            await self._show(job, True)
            return
        except RateLimited as e:
            self._schedule(local_id, time.monotonic() + max(e.retry_after or 0.0, self.cfg.poll_max_s))
            return
        except LegnextError as e:
            n = self._errors[local_id] = self._errors.get(local_id, 0) + 1
            log.warning("reading job %s failed (%r); attempt %d", job.job_id, e, n)
            if elapsed > timeout_for(job.task_type, self.cfg):
                await self._time_out(job)
                return
            self._schedule(local_id, time.monotonic() + min(self.cfg.poll_max_s * 4, self.cfg.poll_min_s * 2**n))
            return
        self._errors.pop(local_id, None)
        changes = apply_api_job(api_job)
        if changes.get("status") == job.status:
            changes.pop("started_at", None)
        if job.started_at:
            changes.pop("started_at", None)
        if changes.get("status") not in ("completed", "failed") and elapsed > timeout_for(job.task_type, self.cfg):
            await self._time_out(job)
            return
        status_changed = changes.get("status") != job.status
        job = await self.repo.update(job.id, **changes)
        if job.finished:
            log.info("job %d (%s) %s after %.1fs", job.id, job.job_id, job.status, elapsed)
            await self._show(job, True)
            return
        if status_changed:
            await self._show(job, False)
        running_for = time.time() - job.started_at if job.started_at else None
        self._schedule(local_id, time.monotonic() + next_interval(job.task_type, running_for, self.cfg))

    async def _time_out(self, job: JobRecord) -> None:
        job = await self.repo.update(
            job.id, status="failed", finished_at=time.time(),
            error=f"it did not finish within {human_duration(timeout_for(job.task_type, self.cfg))}, "
                  "so the bot stopped waiting for it",
        )
        log.warning("job %d (%s) timed out", job.id, job.job_id)
        await self._show(job, True)

    async def _show(self, job: JobRecord, final: bool) -> None:
        try:
            await self.show(job, final)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("showing job %d failed", job.id)
