"""The one launcher: every job (commands, buttons, forms, later the queue and the web editor) starts here.

`launch(what, member, where)` checks what costs nothing (the bot's permissions where the result will be shown, the
member's running limit), records the job (the limit and the double-press rule in the same step), submits it, has
its public message announced and hands it to the tracker. It takes plain data, not an `Interaction`: no Discord here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.core.errors import (
    AlreadyRequested,
    BotLacksPermissions,
    Expired,
    NotAllowed,
    NotAvailable,
    OutcomeUnknownAgain,
    SubmittedButUnrecorded,
    TooManyJobs,
    UserError,
)
from bot.core.permissions import missing_for_results
from bot.core.text import clean_api_text
from bot.core.tracker import Tracker
from bot.legnext import models as m
from bot.legnext.client import LegnextClient
from bot.legnext.errors import LegnextError, NotFound, SubmitOutcomeUnknown
from bot.storage.jobs import DuplicateJob, JobRecord, JobRepo, RunningLimitReached
from bot.vocabulary import API_RUNNING, FOLLOW_UP_WINDOW_S, JobStatus

log = logging.getLogger(__name__)

SUBMITS_AT_ONCE = 8  # submits in flight to the API at once (more wait their turn, recorded and answered)


@dataclass(frozen=True)
class Member:
    id: int
    is_moderator: bool = False


@dataclass(frozen=True)
class Where:
    guild_id: int | None
    channel_id: int | None
    reply_to_id: int | None = None
    # the bot's own permissions in that channel (an interaction's `app_permissions`); None = not known
    bot_permissions: int | None = None
    in_thread: bool = False
    # (application id, interaction token) of the member's "thinking…" answer, resolved even after a restart
    answer_to: tuple[int, str] | None = None


@dataclass(frozen=True)
class Confirm:
    """A press that may be run again after an unknown outcome, once the member confirmed paying twice."""

    action: str
    job_id: str
    index: int


@dataclass(frozen=True)
class Launch:
    """What to start: a checked request, and how the job is recorded and shown."""

    request: m.SubmitRequest
    action: str  # what the member did: "imagine", or a button's action
    prompt: str  # the prompt shown with the job
    extra: dict[str, Any] = field(default_factory=dict)  # model, what the result describes, ...
    parent_job_id: str | None = None  # the Legnext job a follow-up is made on
    image_no: int | None = None
    dedupe_key: str | None = None  # the same button on the same image starts one job
    again_after_unknown: bool = False  # the member confirmed running it again after an unknown outcome
    confirm_again: Confirm | None = None  # offered when refused because an earlier one's outcome is unknown


Announce = Callable[[JobRecord], Awaitable[JobRecord]]  # posts the job's public message; returns the job with it


def message_link(job: JobRecord) -> str | None:
    if job.guild_id and job.channel_id and job.message_id:
        return f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.message_id}"
    return None


class Launcher:
    def __init__(
        self, *, api: LegnextClient, repo: JobRepo, config: Settings, tracker: Tracker,
        owe: Callable[[JobRecord], None], announce: Announce | None = None, simulated: bool = False,
    ) -> None:
        self.api = api
        # the API is the embedded simulator (`mjbot --simulator`): every job is marked, and its result says so
        self.simulated = simulated
        self.repo = repo
        self.config = config
        self.tracker = tracker
        self.owe = owe  # hands a finished job to delivery (shown in the channel until Discord accepted it)
        self.announce = announce
        self.callback_url: str | None = None  # with the web server's public URL: Legnext calls back when a job ends
        self._submit_slots = asyncio.Semaphore(SUBMITS_AT_ONCE)

    # ------------------------------------------------------------------------------------------------ free checks

    def check_channel(self, where: Where) -> None:
        """Can the bot show a result where the member asked? Raises `BotLacksPermissions` naming what's missing."""
        if where.bot_permissions is None:
            return
        missing = missing_for_results(where.bot_permissions, in_thread=where.in_thread,
                                      attach_files=self.config.jobs.rehost_images,
                                      replies=where.reply_to_id is not None)
        if missing:
            raise BotLacksPermissions(missing)

    async def check_quota(self, member: Member) -> None:
        """An early, friendly refusal; the limit itself is enforced where the job is recorded."""
        limit = self.config.jobs.max_running_per_member
        if await self.repo.running_count(member.id) >= limit:
            raise self._too_many(limit)

    async def check_free(self, member: Member, where: Where) -> None:
        """Everything that can refuse a job before anything is spent (call it before `defer()`)."""
        self.check_channel(where)
        await self.check_quota(member)

    async def follow_up_source(self, job_id: str, member: Member, *, guild_id: int | None) -> JobRecord:
        """The finished job a button acts on, if it was made in this server (`guild_id`: where the button was
        pressed), the member may use it and the API still accepts follow-ups."""
        source = await self.repo.by_job_id(job_id)
        if source is None or source.status != JobStatus.COMPLETED or source.guild_id != guild_id:
            # a forged button naming another server's job is answered like an unknown one
            raise NotAvailable("I have no finished job behind that button any more, so it can't be used.")
        self._check_access(source, member)
        if time.time() - (source.submitted_at or source.created_at) > FOLLOW_UP_WINDOW_S:
            raise Expired()
        return source

    async def existing(self, dedupe_key: str | None) -> JobRecord | None:
        """The live job an earlier request with the same key started; one whose outcome is unknown counts too
        (running it again needs a confirmation)."""
        if dedupe_key is None:
            return None
        job = await self.repo.by_dedupe_key(dedupe_key)
        return job if job is not None and job.status != JobStatus.FAILED else None

    @staticmethod
    def refuse_existing(existing: JobRecord, confirm: Confirm | None) -> UserError:
        """The sentence for a request that already has a job: its link, or the confirmation to pay again (offered
        as a button only for a plain press: a remix, zoom or region is asked again by its own form)."""
        if existing.status == JobStatus.UNKNOWN:
            return OutcomeUnknownAgain(confirm.action if confirm else existing.action,
                                       confirm.job_id if confirm else existing.parent_job_id or "",
                                       confirm.index if confirm else existing.image_no or 0,
                                       message_link(existing), confirmable=confirm is not None)
        return AlreadyRequested(message_link(existing))

    # ------------------------------------------------------------------------------------------------ launch

    async def launch(self, what: Launch, member: Member, where: Where) -> JobRecord:
        """Check, record, submit, announce, track. Raises a `UserError` or `LegnextError` when nothing started;
        once the API accepted the job, its failures to show are the presenter's and delivery's to fix."""
        await self.check_free(member, where)
        job = await self._submit(what, member, where)
        if self.announce is not None:
            job = await self.announce(job)
        self.tracker.track(job)
        return job

    def _check_access(self, source: JobRecord, member: Member) -> None:
        mode = self.config.jobs.button_access
        if mode == "anyone" or member.id == source.requester_id:
            return
        if mode == "requester_and_moderators" and member.is_moderator:
            return
        who = "the member who made it" + (" or a moderator" if mode == "requester_and_moderators" else "")
        raise NotAllowed(f"Only {who} can use the buttons on this image.")

    @staticmethod
    def _too_many(limit: int) -> TooManyJobs:
        return TooManyJobs(
            f"You already have {limit} jobs running. Please wait for one to finish before starting another."
        )

    async def _submit(self, what: Launch, member: Member, where: Where) -> JobRecord:
        """Record first (with the running limit and the double-press rule in the same step), then submit. A submit
        whose outcome is unknown is never sent again; it is shown in the channel as such."""
        req = what.request
        if self.callback_url is not None:
            req = req.model_copy(update={"callback": self.callback_url})
        try:
            job = await self.repo.create(
                task_type=req.task_type, action=what.action, requester_id=member.id, prompt=what.prompt,
                request=req.body(), extra={**what.extra, "simulated": True} if self.simulated else what.extra,
                parent_job_id=what.parent_job_id, image_no=what.image_no,
                guild_id=where.guild_id, channel_id=where.channel_id, reply_to_id=where.reply_to_id,
                dedupe_key=what.dedupe_key, max_running=self.config.jobs.max_running_per_member,
                again_after_unknown=what.again_after_unknown, answer_to=where.answer_to,
            )
        except DuplicateJob as dup:
            existing = await self.wait_for_message(dup.existing)
            raise self.refuse_existing(existing, what.confirm_again) from None
        except RunningLimitReached as e:
            raise self._too_many(e.limit) from None
        try:
            await self._submit_slots.acquire()  # a burst of thousands doesn't open thousands of connections
        except BaseException:
            await self._refused(job, "stopped before it was sent")  # nothing reached the API
            raise
        try:
            api_job = await self._submit_one(req)
        except SubmitOutcomeUnknown as e:
            job = await self.repo.update(job.id, status=JobStatus.UNKNOWN, error=clean_api_text(e.message),
                                         finished_at=time.time(), ack_token=None, ack_app_id=None)
            self.owe(job)  # shown publicly as "outcome unknown"
            raise
        except NotFound:
            await self._refused(job, "not found")
            raise Expired() from None
        except LegnextError as e:
            await self._refused(job, clean_api_text(e.message))
            raise
        except BaseException:
            # Cancelled or crashed mid-submit: the job may exist; never resubmit. Shown as "outcome unknown".
            job = await self.repo.update(job.id, status=JobStatus.UNKNOWN, error="interrupted while submitting",
                                         finished_at=time.time(), ack_token=None, ack_app_id=None)
            self.owe(job)
            raise
        now = time.time()
        status = api_job.status if api_job.status in API_RUNNING else JobStatus.PENDING
        changes: dict[str, Any] = dict(job_id=api_job.job_id, status=status, frozen_points=api_job.usage.frozen,
                                       submitted_at=now)
        if status == JobStatus.PROCESSING:  # already running: its time-out counts from now
            started = api_job.meta.started_at.timestamp() if api_job.meta and api_job.meta.started_at else now
            changes["started_at"] = min(started, now)
        for attempt in range(3):  # the job is paid for: try hard to keep it
            try:
                job = await self.repo.update(job.id, **changes)
                break
            except Exception:
                log.exception("recording submitted job %d (%s) failed (attempt %d)", job.id, api_job.job_id,
                              attempt + 1)
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            raise SubmittedButUnrecorded(api_job.job_id)
        log.info("job %d submitted as %s (%s by %d)", job.id, api_job.job_id, what.action, member.id)
        return job

    async def _submit_one(self, req: m.SubmitRequest) -> m.Job:
        try:
            return await self.api.submit(req)
        finally:
            self._submit_slots.release()

    async def _refused(self, job: JobRecord, reason: str) -> None:
        """The API refused the submit (nothing charged): the member is told ephemerally; nothing is owed."""
        now = time.time()
        await self.repo.update(job.id, status=JobStatus.FAILED, error=reason or "refused", finished_at=now,
                               delivered_at=now, ack_token=None, ack_app_id=None)

    # ------------------------------------------------------------------------------------------------ afterwards

    async def wait_for_message(self, job: JobRecord, wait_s: float = 5.0) -> JobRecord:
        """`job` once its public message is posted (a press at the same moment is still posting it)."""
        deadline = time.monotonic() + wait_s
        while job.message_id is None and not job.finished and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            job = await self.repo.get(job.id) or job
        return job

    async def forget_ack(self, job: JobRecord) -> None:
        """The member's "thinking…" answer was resolved (the interaction token is not kept any longer)."""
        await self.repo.update(job.id, ack_token=None, ack_app_id=None)
