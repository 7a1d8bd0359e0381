"""The job tracker: one scheduler that follows every unfinished job until it ends.

Started at boot from the database, so a restart loses nothing. Each job is polled on a cadence that fits its task
(little in the first seconds of a long job, more often near its expected end), with backoff on errors and
`Retry-After` honoured on 429. Time-outs mean something: a job's own time-out counts from when the API started
processing it, and waiting in the API's queue has its own, much longer limit. A 404 for a job the API accepted is
read again for a grace period; reads that keep failing end the job with "could not reach Legnext". Every change is
written to the database first and shown after (through `show`; a final state is handed to delivery, which keeps
it owed until Discord accepted it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.config import JobsConfig
from bot.core.metrics import Metrics
from bot.core.schedule import Scheduler
from bot.core.text import clean_api_text
from bot.legnext.client import LegnextClient
from bot.legnext.errors import LegnextError, NotFound, RateLimited
from bot.legnext.models import Job
from bot.storage.jobs import JobRecord, JobRepo
from bot.vocabulary import API_RUNNING, DEFAULT_EXPECTED_S, FOLLOW_UP_WINDOW_S, TASKS, Family, JobStatus, task

log = logging.getLogger(__name__)

Show = Callable[[JobRecord, bool], Awaitable[None]]

# Typical durations (bot.vocabulary): the cadence aims its polls around these (the benchmark scales this table).
EXPECTED_S: dict[str, float] = {name: t.expected_s for name, t in TASKS.items()}
# Jobs end over a span (imagine: 30-40 s): polls close in from this share of the expected duration on.
EARLIEST = 0.75
# The API's timestamps have whole seconds and come from another clock: time-outs allow for that much.
CLOCK_SLACK_S = 2.0
# A job the bot stopped waiting for is read again this often, until the API's follow-up window closes.
LATE_CHECK_S = 600.0


def expected_duration(task_type: str) -> float:
    return EXPECTED_S.get(task_type, DEFAULT_EXPECTED_S)


def next_interval(task_type: str, running_for: float | None, cfg: JobsConfig) -> float:
    """Seconds until the next poll of a job that has been processing for `running_for` seconds.

    A job not started yet (queued behind the account's concurrent jobs) is polled at a third of its expected
    duration; a running one at half the time left until the earliest it usually ends (`EARLIEST` of its expected
    duration), then at `poll_min_s` through the span where it usually ends; an overdue one less and less often.
    Always within [poll_min_s, poll_max_s].
    """
    expected = expected_duration(task_type)
    if running_for is None:
        interval = expected / 3
    elif running_for < expected * EARLIEST:
        interval = (expected * EARLIEST - running_for) / 2
    elif running_for <= expected:
        interval = cfg.poll_min_s
    else:
        interval = cfg.poll_min_s * (1 + (running_for - expected) / expected)
    return min(cfg.poll_max_s, max(cfg.poll_min_s, interval))


def timeout_for(task_type: str, cfg: JobsConfig) -> float:
    family = task(task_type).family
    if family is Family.VIDEO:
        return cfg.timeout_video_s
    if family is Family.TEXT:
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
    # when it ended at the API (its clock, whole seconds), not when the bot learnt of it
    ended = api_job.meta.ended_at.timestamp() if api_job.meta and api_job.meta.ended_at else now
    ended = min(ended, now)
    if api_job.completed:
        changes.update(status=JobStatus.COMPLETED, output=api_job.output.model_dump(mode="json", exclude_none=True)
                       if api_job.output else {}, finished_at=ended,
                       consumed_points=api_job.usage.consume or api_job.usage.frozen)
    elif api_job.failed:
        changes.update(status=JobStatus.FAILED, error=clean_api_text(api_job.error_text) or "the job failed",
                       finished_at=ended, consumed_points=api_job.usage.consume)
    else:
        # unknown statuses count as still running
        status = api_job.status if api_job.status in API_RUNNING else JobStatus.PROCESSING
        changes.update(status=status)
        if status == JobStatus.PROCESSING:
            started = api_job.meta.started_at.timestamp() if api_job.meta and api_job.meta.started_at else now
            changes["started_at"] = min(started, now)
    if api_job.usage.frozen:
        changes["frozen_points"] = api_job.usage.frozen
    return changes


class Tracker:
    def __init__(self, api: LegnextClient, repo: JobRepo, cfg: JobsConfig, show: Show, *, concurrency: int = 8,
                 metrics: Metrics | None = None) -> None:
        self.api = api
        self.repo = repo
        self.cfg = cfg
        self.show = show
        self._errors: dict[int, int] = {}
        self._failing_since: dict[int, float] = {}  # local id -> when reads started failing without a break
        self._missing_since: dict[int, float] = {}  # local id -> first 404 for a job the API had accepted
        self._scheduler = Scheduler("job-tracker", self._poll, concurrency=concurrency)
        # with Legnext's callbacks on, a callback pokes the job at once; polls are only the safety net
        self.safety_net_only = False
        self._poked: set[int] = set()  # poked while being polled: poll again right after
        self.metrics = metrics or Metrics()

    # ---------------------------------------------------------------------------------------------------- control

    async def start(self) -> None:
        """Pick up every unfinished job in the database, then run."""
        resumed = 0
        for job in await self.repo.unfinished():
            if job.status == JobStatus.SUBMITTING and job.sending_at is None and not job.job_id:
                # taken from the queue, but the bot stopped before its submit left: it goes back, nothing was sent
                await self.repo.requeue(job.id)
                log.info("job %d was about to be sent when the bot stopped: back in the queue", job.id)
                continue
            if job.status == JobStatus.SUBMITTING or not job.job_id:
                # The process died between recording and the API's answer: the job may exist; never resubmit.
                job = await self.repo.update(
                    job.id, status=JobStatus.UNKNOWN, finished_at=time.time(),
                    error="the bot stopped while submitting this job, so whether it started is unknown",
                )
                await self._show(job, True)
                continue
            self.track(job, delay=0.0)
            resumed += 1
        if resumed:
            log.info("resumed tracking %d unfinished jobs", resumed)
        for i, job in enumerate(await self.repo.late_checks(time.time() - FOLLOW_UP_WINDOW_S)):
            self._later(job.id, 5.0 + i * 0.5)  # jobs the bot stopped waiting for: read again, spread out
        self._scheduler.start()

    async def stop(self) -> None:
        await self._scheduler.stop()

    def track(self, job: JobRecord, delay: float | None = None) -> None:
        """Follow `job` until it finishes. Safe to call twice."""
        if job.finished or not job.job_id:
            return
        if delay is None:
            delay = next_interval(job.task_type, None, self.cfg)
        self._scheduler.schedule(job.id, delay)

    def poke(self, local_id: int) -> None:
        """Poll this job now (e.g. a callback said it changed). During a poll of it, once that poll is over: the
        poll under way may have read the job just before the change."""
        if self._scheduler.busy(local_id):
            self._poked.add(local_id)
        elif self._scheduler.scheduled(local_id):
            self._scheduler.schedule(local_id, 0.0)

    @property
    def tracked(self) -> int:
        return self._scheduler.pending

    # ---------------------------------------------------------------------------------------------------- polls

    def _later(self, local_id: int, delay: float) -> None:
        if local_id in self._poked:
            self._poked.discard(local_id)
            delay = 0.0
        self._scheduler.schedule(local_id, delay)

    def _forget(self, local_id: int) -> None:
        self._errors.pop(local_id, None)
        self._failing_since.pop(local_id, None)
        self._missing_since.pop(local_id, None)

    async def _poll(self, local_id: int) -> None:
        job = await self.repo.get(local_id)
        if job is not None and job.status == JobStatus.UNKNOWN and job.job_id:
            await self._late_check(job)
            return
        if job is None or job.finished or not job.job_id:
            self._forget(local_id)
            return
        now = time.time()
        try:
            api_job = await self.api.get_job(job.job_id)
        except NotFound:
            first = self._missing_since.setdefault(local_id, now)
            if now - first >= self.cfg.not_found_grace_s:
                await self._end(job, "Legnext no longer knows this job")
                return
            n = self._errors[local_id] = self._errors.get(local_id, 0) + 1
            log.info("job %s answered 404 (attempt %d); reading it again", job.job_id, n)
            self._later(local_id, self._backoff(n))
            return
        except RateLimited as e:
            self._later(local_id, max(e.retry_after or 0.0, self.cfg.poll_max_s))
            return
        except LegnextError as e:
            n = self._errors[local_id] = self._errors.get(local_id, 0) + 1
            first = self._failing_since.setdefault(local_id, now)
            log.warning("reading job %s failed (%r); attempt %d", job.job_id, e, n)
            if now - first >= self.cfg.read_failure_limit_s:
                await self._end(job, "the bot could not reach Legnext to learn how this job ended")
                return
            self._later(local_id, self._backoff(n))
            return
        self._forget(local_id)
        changes = apply_api_job(api_job)
        if job.started_at:
            changes.pop("started_at", None)
        if changes.get("status") not in (JobStatus.COMPLETED, JobStatus.FAILED):
            started = job.started_at or changes.get("started_at")
            if started is not None and now - started > timeout_for(job.task_type, self.cfg) + CLOCK_SLACK_S:
                limit = human_duration(timeout_for(job.task_type, self.cfg))
                await self._end(job, f"it did not finish within {limit} of starting, so the bot stopped waiting for it")
                return
            waited = now - (job.submitted_at or job.created_at)
            if started is None and waited > self.cfg.timeout_queue_s:
                limit = human_duration(self.cfg.timeout_queue_s)
                await self._end(job, f"it waited in Legnext's queue for more than {limit} without starting, "
                                     "so the bot stopped waiting for it")
                return
        status_changed = changes.get("status") != job.status
        frozen_changed = changes.get("frozen_points", job.frozen_points) != job.frozen_points
        if status_changed or frozen_changed or "started_at" in changes:
            job = await self.repo.update(job.id, **changes)
        if job.finished:
            self._poked.discard(local_id)
            if job.consumed_points:
                self.metrics.points_consumed.inc(job.consumed_points)
            elapsed = time.time() - (job.submitted_at or job.created_at)
            log.info("job %d (%s) %s after %.1fs", job.id, job.job_id, job.status, elapsed)
            await self._show(job, True)
            return
        if status_changed:
            await self._show(job, False)
        running_for = time.time() - job.started_at if job.started_at else None
        interval = next_interval(job.task_type, running_for, self.cfg)
        self._later(local_id, max(interval, self.cfg.poll_max_s * 2) if self.safety_net_only else interval)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.cfg.poll_max_s * 4, self.cfg.poll_min_s * 2.0**attempt))

    async def _end(self, job: JobRecord, reason: str) -> None:
        """The bot stops waiting for a job the API accepted. It may still finish (and be charged), so its outcome
        is unknown: shown as such, a press of the same button again needs a confirmation, and the job is read
        again now and then until the follow-up window closes, so a late result is still shown."""
        self._forget(job.id)
        job = await self.repo.update(job.id, status=JobStatus.UNKNOWN, finished_at=time.time(), error=reason)
        log.warning("job %d (%s) outcome unknown: %s", job.id, job.job_id, reason)
        await self._show(job, True)
        self._later(job.id, LATE_CHECK_S)

    async def _late_check(self, job: JobRecord) -> None:
        """Read a job whose outcome is unknown; a late end is recorded and shown (owed again)."""
        if job.job_id is None or time.time() - job.created_at > FOLLOW_UP_WINDOW_S:
            return
        try:
            api_job = await self.api.get_job(job.job_id)
        except NotFound:
            return  # the API forgot it: it stays unknown
        except LegnextError:
            self._later(job.id, LATE_CHECK_S)
            return
        if not api_job.finished:
            self._later(job.id, LATE_CHECK_S)
            return
        changes = apply_api_job(api_job)
        changes.pop("started_at", None)
        job = await self.repo.update(job.id, **changes, delivered_at=None, undeliverable=None)
        log.info("job %d (%s) %s after all; showing it", job.id, job.job_id, job.status)
        await self._show(job, True)

    async def _show(self, job: JobRecord, final: bool) -> None:
        try:
            await self.show(job, final)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("showing job %d failed", job.id)
