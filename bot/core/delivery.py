"""Delivery that cannot be lost: a finished job stays owed (in the database) until Discord accepted its final message.

`Delivery.owe(job)` hands over a finished job; `start()` picks up every owed job left by an earlier run (a crash, a
kill, a deploy). Each attempt calls `attempt(job, links_only)`, which shows the job and raises one of the exceptions
below to say what went wrong. A failed attempt is retried with exponential backoff (honouring Discord's
`retry_after`); a result too large to attach is shown as links; a job that can never be shown (its channel is gone)
is given up with a log line and counted, and so is one still failing after `delivery_give_up_s`. No Discord here:
the presenter translates Discord's answers into these exceptions.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable

from bot.config import JobsConfig
from bot.core.metrics import Metrics
from bot.core.schedule import Scheduler
from bot.storage.jobs import JobRecord, JobRepo

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """Showing the job failed for now; try again later (after `retry_after` seconds when Discord said so)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class AttachmentsRefused(DeliveryFailed):
    """Discord refused the files (too large, or no Attach Files permission): show the result as links instead."""


class FilesUnavailable(DeliveryFailed):
    """The result's files could not be fetched just now: try again; after a few tries, show links instead."""


class CannotDeliver(Exception):
    """The job can never be shown (its channel is gone): stop trying."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Attempt = Callable[[JobRecord, bool], Awaitable[None]]

BASE_DELAY_S = 1.0
LINKS_AFTER_ATTEMPTS = 5  # files that can't be fetched this many times running: show the result as links
MIN_ATTEMPTS = 5  # never give up before this many attempts, however long ago the job finished


class Delivery:
    def __init__(self, repo: JobRepo, cfg: JobsConfig, attempt: Attempt, *, concurrency: int = 4,
                 metrics: Metrics | None = None) -> None:
        self.repo = repo
        self.cfg = cfg
        self.attempt = attempt
        self._links_only: set[int] = set()
        self._failing_since: dict[int, float] = {}  # local id -> first failed attempt (in this run)
        self._scheduler = Scheduler("delivery", self._deliver, concurrency=concurrency)
        self.metrics = metrics or Metrics()  # figures for the operator and the benchmark

    async def start(self) -> None:
        owed = await self.repo.owed()
        for job in owed:
            self._scheduler.schedule(job.id)
        if owed:
            log.info("delivering %d finished jobs left by the last run", len(owed))
        never = await self.repo.undeliverable_count()
        if never:
            log.warning("%d finished jobs could never be shown (their channel is gone, or Discord kept refusing); "
                        "see the jobs table's undeliverable column", never)
        self._scheduler.start()

    async def stop(self, grace_s: float = 0.0) -> None:
        """Let deliveries under way finish for `grace_s`; whatever is left stays owed for the next start."""
        await self._scheduler.stop(grace_s)

    def owe(self, job: JobRecord) -> None:
        self._scheduler.schedule(job.id)

    @property
    def waiting(self) -> int:
        return self._scheduler.pending

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt `attempt + 1`: 1, 2, 4, ... up to `delivery_retry_max_s`, with jitter."""
        delay = min(self.cfg.delivery_retry_max_s, BASE_DELAY_S * 2.0 ** max(0, attempt - 1))
        return float(delay * random.uniform(0.75, 1.0))

    async def _deliver(self, local_id: int) -> None:
        job = await self.repo.get(local_id)
        if job is None or not job.owed:
            self._links_only.discard(local_id)
            return
        attempts = job.delivery_attempts + 1
        job = await self.repo.update(job.id, delivery_attempts=attempts)
        self.metrics.delivery_attempts_total.inc()
        links_only = local_id in self._links_only
        try:
            await self.attempt(job, links_only)
        except CannotDeliver as e:
            await self._give_up(job, e.reason)
            return
        except AttachmentsRefused as e:
            if not links_only:
                log.info("job %d: Discord refused the files (%s); showing links instead", job.id, e.reason)
                self._links_only.add(local_id)
                self._scheduler.schedule(local_id)
                return
            await self._retry(job, attempts, e)
            return
        except FilesUnavailable as e:
            if attempts >= LINKS_AFTER_ATTEMPTS:
                self._links_only.add(local_id)
            await self._retry(job, attempts, e)
            return
        except DeliveryFailed as e:
            await self._retry(job, attempts, e)
            return
        except Exception as e:  # a bug: logged, retried like a failure, given up in the end
            log.exception("showing job %d failed unexpectedly", job.id)
            await self._retry(job, attempts, DeliveryFailed(f"unexpected {type(e).__name__}"))
            return
        self._links_only.discard(local_id)
        self._failing_since.pop(local_id, None)
        try:
            await self.repo.update(job.id, delivered_at=time.time(), shown_status=job.status)
        except KeyError:  # the record was deleted meanwhile (by an operator): nothing is owed any more
            log.info("job %d was shown, but its record is gone", job.id)
            return
        self.metrics.delivered_total.inc()
        if job.finished_at:
            self.metrics.delivery_delay.observe(max(0.0, time.time() - job.finished_at))
        if attempts > 1:
            log.info("job %d shown after %d attempts", job.id, attempts)

    async def _retry(self, job: JobRecord, attempts: int, e: DeliveryFailed) -> None:
        failing_for = time.time() - self._failing_since.setdefault(job.id, time.time())
        if failing_for > self.cfg.delivery_give_up_s and attempts >= MIN_ATTEMPTS:
            await self._give_up(job, f"still failing after {attempts} attempts: {e.reason}")
            return
        delay = max(e.retry_after or 0.0, self.backoff(attempts))
        log.info("job %d not shown yet (%s); attempt %d, next in %.1fs", job.id, e.reason, attempts, delay)
        self._scheduler.schedule(job.id, delay)

    async def _give_up(self, job: JobRecord, reason: str) -> None:
        self._links_only.discard(job.id)
        self._failing_since.pop(job.id, None)
        await self.repo.update(job.id, undeliverable=reason[:500])
        self.metrics.given_up_total.inc()
        log.warning("job %d (%s, %s) can't be shown and is given up: %s", job.id, job.job_id, job.status, reason)
