"""The one launcher: every job (commands, buttons, forms, the web editor) starts here, and the fair queue sends it.

`launch(what, member, where)` checks what costs nothing (the bot's permissions where the result will be shown, the
server's limits: paused, roles, channels, banned words, budgets), records the job with its points reserved (the
budgets, the member's limit and the double-press rule in the same step), then either sends it at once or leaves it
in the bot's own queue, has its public message announced and hands it to the tracker. A queued job is sent later,
round-robin across members, when fewer than `legnext.concurrency` jobs run at the API and fewer than the member's
`running_per_member`. It takes plain data, not an `Interaction`: no Discord here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot.config import Settings
from bot.core.costs import points_for
from bot.core.errors import (
    AlreadyRequested,
    BotLacksPermissions,
    Expired,
    NotAllowed,
    NotAvailable,
    OutcomeUnknownAgain,
    SubmittedButUnrecorded,
    UserError,
)
from bot.core.limits import (
    BannedWord,
    Limits,
    OverBudget,
    QueueFull,
    Waiting,
    banned_word_in,
    check_allowed,
    day_start,
    fair_order,
    prompts_of,
)
from bot.core.permissions import missing_for_results
from bot.core.schedule import wait_event
from bot.core.sources import expired_discord_links
from bot.core.text import clean_api_text
from bot.core.tracker import Tracker
from bot.legnext import models as m
from bot.legnext.client import LegnextClient
from bot.legnext.errors import (
    AuthError,
    LegnextError,
    NotFound,
    OutOfCredits,
    RateLimited,
    SubmitOutcomeUnknown,
)
from bot.storage.jobs import Budget, BudgetReached, DuplicateJob, JobRecord, JobRepo, RunningLimitReached
from bot.storage.limits import LimitsRepo
from bot.vocabulary import API_RUNNING, FOLLOW_UP_WINDOW_S, JobStatus

log = logging.getLogger(__name__)

SUBMITS_AT_ONCE = 8  # submits in flight to the API at once (more wait their turn, recorded and answered)
QUEUE_PAUSE_S = 10.0  # after the API's 429 (its concurrency limit), when it gave no Retry-After
MAX_PAUSE_S = 60.0  # a longer Retry-After is not believed: the queue looks again after this
ACCOUNT_PAUSE_S = 60.0  # the API refused the key or is out of credits: queued jobs wait (the moderators are told)
EXPIRED_UPLOAD = ("the image it was given expired while it waited in the queue (Discord's links last about a day), "
                  "so it was not sent and nothing was charged; please run the command again with the image")
RECORD_RETRY_MAX_S = 60.0  # a submitted job the database would not record is tried again at least this often
POSTING_S = 2.0  # a queued job this old without a message: its launch could not post it
REPOST_AFTER_S = 10.0  # such a message is tried again this often
POSITIONS_SHOWN = 20  # queued jobs whose message follows their position as it changes
QUEUE_TICK_S = 5.0  # the queue is also looked at this often (a safety net: ends and cancels pump it at once)


@dataclass(frozen=True)
class Member:
    id: int
    is_moderator: bool = False
    roles: frozenset[int] = frozenset()


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
    parent_channel_id: int | None = None  # in a thread: its channel (allowed channels count it)


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
Show = Callable[[JobRecord], Awaitable[None]]  # shows a job's new state in its message (throttled)


def message_link(job: JobRecord) -> str | None:
    if job.guild_id and job.channel_id and job.message_id:
        return f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.message_id}"
    return None


class Launcher:
    def __init__(
        self, *, api: LegnextClient, repo: JobRepo, config: Settings, tracker: Tracker,
        owe: Callable[[JobRecord], None], announce: Announce | None = None, simulated: bool = False,
        limits: LimitsRepo | None = None, show: Show | None = None,
    ) -> None:
        self.api = api
        # the API is the embedded simulator (`mjbot --simulator`): every job is marked, and its result says so
        self.simulated = simulated
        self.repo = repo
        self.config = config
        self.tracker = tracker
        self.owe = owe  # hands a finished job to delivery (shown in the channel until Discord accepted it)
        self.announce = announce
        self.show = show  # a queued job's new position, or its start
        self.limits_repo = limits
        self.callback_url: str | None = None  # with the web server's public URL: Legnext calls back when a job ends
        self._submit_slots = asyncio.Semaphore(SUBMITS_AT_ONCE)
        self._queue_lock = asyncio.Lock()
        self._not_before = 0.0  # monotonic time before which the queue sends nothing (the API said 429)
        self._sending: set[asyncio.Task[None]] = set()
        self._queue_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._positions_lock = asyncio.Lock()
        self._showing: set[asyncio.Task[None]] = set()
        self._post_tried: dict[int, float] = {}  # queued jobs whose message could not be posted: when last tried
        self._stopped = False  # at shutdown: nothing more is taken from the queue (it waits for the next start)

    # ------------------------------------------------------------------------------------------------ free checks

    async def limits_for(self, guild_id: int | None) -> Limits:
        changes = await self.limits_repo.get(guild_id) if self.limits_repo is not None else {}
        return Limits.of(self.config.limits, changes)

    def check_channel(self, where: Where) -> None:
        """Can the bot show a result where the member asked? Raises `BotLacksPermissions` naming what's missing."""
        if where.bot_permissions is None:
            return
        missing = missing_for_results(where.bot_permissions, in_thread=where.in_thread,
                                      attach_files=self.config.jobs.rehost_images,
                                      replies=where.reply_to_id is not None)
        if missing:
            raise BotLacksPermissions(missing)

    async def check_free(self, member: Member, where: Where, what: Launch | None = None) -> Limits:
        """Everything that can refuse a job before anything is spent (call it before `defer()`): the bot's
        permissions, the server's pause, roles and channels, the member's queue, and with `what` its banned words
        and the daily budgets. An early, friendly refusal: the limits themselves are enforced where the job is
        recorded, by the same rules (`JobRepo.over_limits`)."""
        self.check_channel(where)
        limits = await self.limits_for(where.guild_id)
        check_allowed(limits, is_moderator=member.is_moderator, roles=member.roles,
                      channel_ids=[c for c in (where.channel_id, where.parent_channel_id) if c is not None])
        now = time.time()
        budget = Budget(max_unfinished=limits.unfinished_per_member)  # before a form, only the member's queue
        over = await self.repo.over_limits(member.id, where.guild_id, budget)
        if over is None and what is not None:
            self.check_words(limits, what)
            budget = replace(self._budget(what, limits, now), max_unfinished=0)  # the queue was just checked
            over = await self.repo.over_limits(member.id, where.guild_id, budget)
        if over is not None:
            raise self._refusal(over, limits, budget.points, now)
        return limits

    @staticmethod
    def check_words(limits: Limits, what: Launch) -> None:
        found = banned_word_in(limits.banned_words, prompts_of(what.request.body()))
        if found is not None:
            raise BannedWord(found)

    def _budget(self, what: Launch, limits: Limits, now: float) -> Budget:
        """What recording `what` must respect: its points against the day's budgets, and the member's queue."""
        return Budget(points=self.cost_of(what), since=day_start(now), member_daily=limits.member_daily_points,
                      server_daily=limits.server_daily_points, max_unfinished=limits.unfinished_per_member)

    @staticmethod
    def _refusal(over: Exception, limits: Limits, cost: int, now: float) -> UserError:
        """The member's sentence for a limit a job would go over (`JobRepo.over_limits`)."""
        if isinstance(over, BudgetReached):
            whose = "your" if over.whose == "member" else "this server's"
            return OverBudget(whose, over.limit, over.used, cost, now)
        return QueueFull(limits)

    @staticmethod
    def cost_of(what: Launch) -> int:
        return points_for(what.request.task_type, what.request.body(), what.prompt)

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
        return job if job is not None and job.status not in (JobStatus.FAILED, JobStatus.CANCELLED) else None

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
        """Check, record (points reserved), then send at once or queue; announce; track. Raises a `UserError` or
        `LegnextError` when nothing started; once the API accepted the job, its failures to show are the
        presenter's and delivery's to fix. A job the queue keeps is returned with status `queued`."""
        limits = await self.check_free(member, where, what)
        job = await self._record(what, member, where, limits)
        mine = await self._dispatch(prefer=job.id)
        if mine is not None:
            job = await self._send(mine, inline=True)
            if job.status != JobStatus.QUEUED:  # sent (a 429 put it back in the queue)
                if self.announce is not None:
                    job = await self.announce(job)
                self.tracker.track(job)
                return job
        await self._positions()
        job = await self.repo.get(job.id) or job
        if job.status == JobStatus.QUEUED and self.announce is not None:
            job = await self.announce(job)
        elif job.status != JobStatus.QUEUED:
            job = await self.wait_for_message(job)  # the queue sent it meanwhile
        return job

    def _check_access(self, source: JobRecord, member: Member) -> None:
        mode = self.config.jobs.button_access
        if mode == "anyone" or member.id == source.requester_id:
            return
        if mode == "requester_and_moderators" and member.is_moderator:
            return
        who = "the member who made it" + (" or a moderator" if mode == "requester_and_moderators" else "")
        raise NotAllowed(f"Only {who} can use the buttons on this image.")

    async def _record(self, what: Launch, member: Member, where: Where, limits: Limits) -> JobRecord:
        """Record the job as queued, its points reserved: the budgets, the member's limit and the double-press
        rule are conditions of the one statement that records it."""
        req = what.request
        if self.callback_url is not None:
            req = req.model_copy(update={"callback": self.callback_url})
        now = time.time()
        budget = self._budget(what, limits, now)
        try:
            return await self.repo.create(
                task_type=req.task_type, action=what.action, requester_id=member.id, prompt=what.prompt,
                request=req.body(), extra={**what.extra, "simulated": True} if self.simulated else what.extra,
                parent_job_id=what.parent_job_id, image_no=what.image_no,
                guild_id=where.guild_id, channel_id=where.channel_id, reply_to_id=where.reply_to_id,
                dedupe_key=what.dedupe_key, again_after_unknown=what.again_after_unknown,
                answer_to=where.answer_to, budget=budget, status=JobStatus.QUEUED,
            )
        except DuplicateJob as dup:
            existing = await self.wait_for_message(dup.existing)
            raise self.refuse_existing(existing, what.confirm_again) from None
        except (RunningLimitReached, BudgetReached) as over:
            raise self._refusal(over, limits, budget.points, now) from None

    # ------------------------------------------------------------------------------------------------ the queue

    async def _dispatch(self, prefer: int | None = None) -> JobRecord | None:
        """Send what the limits allow, round-robin across members. Jobs other than `prefer` are sent in the
        background; `prefer`'s job, when it may go now, is returned claimed (its launcher sends it, so that the
        member hears of a refusal at once)."""
        async with self._queue_lock:
            if self._stopped or time.monotonic() < self._not_before:
                return None
            free = self.config.legnext.concurrency - await self.repo.active_count()
            if free <= 0:
                return None
            queued = await self.repo.queued()
            if not queued:
                return None
            by_id = {j.id: j for j in queued}
            order = await self._fair_order(queued)
            active = await self.repo.active_by_member()
            limits: dict[int | None, Limits] = {}
            mine: JobRecord | None = None
            for local_id in order:
                if free <= 0:
                    break
                job = by_id[local_id]
                key = (job.requester_id, job.guild_id)
                if job.guild_id not in limits:
                    limits[job.guild_id] = await self.limits_for(job.guild_id)
                if active.get(key, 0) >= limits[job.guild_id].running_per_member:
                    continue
                claimed = await self.repo.claim(local_id)
                if claimed is None:  # cancelled meanwhile
                    continue
                free -= 1
                active[key] = active.get(key, 0) + 1
                if local_id == prefer:
                    mine = claimed
                else:
                    task = asyncio.create_task(self._send_queued(claimed), name=f"send-{local_id}")
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
            return mine

    async def _fair_order(self, queued: list[JobRecord]) -> list[int]:
        members = sorted({(j.requester_id, j.guild_id) for j in queued}, key=lambda k: (k[0], k[1] or 0))
        served = await self.repo.last_served(members)
        return fair_order([Waiting(j.id, j.requester_id, j.guild_id, j.requeued) for j in queued], served)

    async def _positions(self) -> None:
        """Number the queued jobs in the order they would be sent; show the ones whose number changed (in the
        background: Discord's rate limits on edits never hold up a member's answer or the queue), and post the
        message of a queued job whose first post failed."""
        async with self._positions_lock:
            queued = await self.repo.queued()
            order = await self._fair_order(queued)
            by_id = {j.id: j for j in queued}
            for gone in [k for k in self._post_tried if k not in by_id]:
                del self._post_tried[gone]
            now = time.time()
            for position, local_id in enumerate(order, start=1):
                job = by_id[local_id]
                if job.queue_position != position:
                    job = await self.repo.update(local_id, queue_position=position)
                    # far back in a long queue, a message is edited only as it comes near the front: a hundred
                    # edits per job sent would run into Discord's rate limits and hold up results
                    if self.show is not None and job.message_id is not None and position <= POSITIONS_SHOWN:
                        self._in_background(self.show(job), local_id)
                if (job.message_id is None and self.announce is not None and now - job.created_at > POSTING_S
                        and now - self._post_tried.get(local_id, 0.0) > REPOST_AFTER_S):
                    self._post_tried[local_id] = now  # its launch could not post it: try again, now and then
                    self._in_background(self._announce_quietly(job), local_id)

    async def _announce_quietly(self, job: JobRecord) -> None:
        if self.announce is not None:
            await self.announce(job)

    def _in_background(self, step: Awaitable[Any], local_id: int) -> None:
        if self._stopped:
            if asyncio.iscoroutine(step):
                step.close()
            return

        async def run() -> None:
            try:
                await step
            except Exception as e:  # showing a position is best effort
                log.info("could not show queued job %d: %s", local_id, e)
        task = asyncio.create_task(run(), name=f"queue-show-{local_id}")
        self._showing.add(task)
        task.add_done_callback(self._showing.discard)

    async def pump(self) -> None:
        """A job ended, was cancelled or the API's pause is over: send what may go now, renumber the rest."""
        await self._dispatch()
        await self._positions()

    def wake(self) -> None:
        """Look at the queue soon (from the tracker's or delivery's side, without waiting for it)."""
        self._wake.set()

    def start_queue(self) -> None:
        """Run the queue: at once (jobs queued before a restart), then on every `wake()` and every few seconds."""
        if self._queue_task is None:
            self._queue_task = asyncio.create_task(self._run_queue(), name="fair-queue")

    async def stop_queue(self, grace_s: float = 0.0) -> None:
        """Stop sending: submits already on their way get `grace_s` to be answered (a submit cut off may have
        created the job, which then could only be shown as "outcome unknown"); jobs not yet sent stay queued."""
        self._stopped = True
        task, self._queue_task = self._queue_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sending and grace_s > 0:
            await asyncio.wait(list(self._sending), timeout=grace_s)
        for pending in [*self._sending, *self._showing]:
            pending.cancel()
        if self._sending or self._showing:
            await asyncio.gather(*self._sending, *self._showing, return_exceptions=True)

    async def _run_queue(self) -> None:
        while True:
            try:
                await self.pump()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the queue could not be served; trying again shortly")
            paused_for = self._not_before - time.monotonic()
            wait = QUEUE_TICK_S if paused_for <= 0 else min(QUEUE_TICK_S, max(0.05, paused_for))
            await wait_event(self._wake, wait)
            self._wake.clear()

    async def cancel(self, local_id: int, by: Member) -> JobRecord:
        """Take a queued job out of the queue (its requester or a moderator). It was never sent: it costs nothing."""
        job = await self.repo.get(local_id)
        if job is None:
            raise NotAvailable("I have no job behind that button any more.")
        if by.id != job.requester_id and not by.is_moderator:
            raise NotAllowed("Only the member who queued this job, or a moderator, can cancel it.")
        cancelled = await self.repo.cancel(local_id, by.id)
        if cancelled is None:
            raise NotAvailable("That job isn't waiting in the queue any more (it has started or was cancelled), "
                               "so it can't be cancelled.")
        log.info("queued job %d cancelled by %d", local_id, by.id)
        await self.forget_ack(cancelled)
        self.owe(cancelled)  # its message says so
        self.wake()
        return cancelled

    # ------------------------------------------------------------------------------------------------ sending

    async def _send_queued(self, job: JobRecord) -> None:
        """Send a job the queue released; its member was answered long ago, so a refusal is shown publicly."""
        try:
            job = await self._send(job, inline=False)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sending queued job %d failed", job.id)
            return
        if job.status == JobStatus.QUEUED:
            return
        if job.finished:
            self.owe(job)
            self.wake()
            return
        self.tracker.track(job)
        if self.show is not None:
            try:
                await self.show(job)  # "Waiting to start" instead of its queue position
            except Exception as e:  # best effort: the tracker shows its next state anyway
                log.info("could not show that queued job %d started: %s", job.id, e)

    async def _send(self, job: JobRecord, *, inline: bool) -> JobRecord:
        """Submit a claimed job (status `submitting`). A submit whose outcome is unknown is never sent again; it is
        shown in the channel as such. A 429 puts it back at the head of the queue. `inline`: the member is still
        waiting for an answer, so a refusal is raised to them; else it is recorded and shown publicly."""
        try:
            req = m.request_class(job.task_type).model_validate(job.request)
            expired = not inline and bool(expired_discord_links(job.request, time.time()))
        except (KeyError, ValueError) as e:  # recorded by an older version in a shape it no longer sends
            log.warning("queued job %d can't be sent: %s", job.id, e)
            return await self._refused(job, "this request can no longer be sent", inline=False)
        except Exception:  # a bug: the job must not stay `submitting` (it would hold a place at the API for good)
            log.exception("queued job %d could not be prepared for sending", job.id)
            return await self._refused(job, "the bot could not send it (logged for the operator); nothing was "
                                            "charged", inline=False)
        if expired:
            # it waited in the queue longer than Discord's attachment links last: the API would fail it
            log.info("queued job %d: its Discord attachment links expired while it waited", job.id)
            return await self._refused(job, EXPIRED_UPLOAD, inline=False)
        try:
            await self._submit_slots.acquire()  # a burst of thousands doesn't open thousands of connections
        except BaseException:
            await self.repo.requeue(job.id)  # nothing reached the API
            raise
        try:
            # from here on it may reach the API: a restart never sends it again (before this, it goes back
            # in the queue)
            job = await self.repo.update(job.id, sending_at=time.time())
        except BaseException:
            self._submit_slots.release()
            await self.repo.requeue(job.id)
            raise
        try:
            api_job = await self._submit_one(req)
        except RateLimited as e:
            self._pause(min(e.retry_after or QUEUE_PAUSE_S, MAX_PAUSE_S))
            log.info("Legnext is at its concurrency limit (429): job %d waits in the queue", job.id)
            return await self.repo.requeue(job.id)
        except (AuthError, OutOfCredits) as e:
            if inline:  # the member hears of it at once (and the moderators through the alerts)
                await self._refused(job, clean_api_text(e.message), inline=True)
                raise
            self._pause(ACCOUNT_PAUSE_S)  # every queued job would fail the same way: they wait instead
            log.warning("Legnext refused a queued job (%s): the queue waits %.0fs", type(e).__name__, ACCOUNT_PAUSE_S)
            return await self.repo.requeue(job.id)
        except SubmitOutcomeUnknown as e:
            job = await self.repo.update(job.id, status=JobStatus.UNKNOWN, error=clean_api_text(e.message),
                                         finished_at=time.time(), ack_token=None, ack_app_id=None)
            self.owe(job)  # shown publicly as "outcome unknown"
            self.wake()
            if inline:
                raise
            return job
        except NotFound:
            job = await self._refused(job, "Legnext no longer has the image this was made on", inline=inline)
            if inline:
                raise Expired() from None
            return job
        except LegnextError as e:
            job = await self._refused(job, clean_api_text(e.message), inline=inline)
            if inline:
                raise
            return job
        except BaseException:
            # Cancelled or crashed mid-submit: the job may exist; never resubmit. Shown as "outcome unknown".
            job = await self.repo.update(job.id, status=JobStatus.UNKNOWN, error="interrupted while submitting",
                                         finished_at=time.time(), ack_token=None, ack_app_id=None)
            self.owe(job)
            raise
        now = time.time()
        status = api_job.status if api_job.status in API_RUNNING else JobStatus.PENDING
        changes: dict[str, Any] = dict(job_id=api_job.job_id, status=status, frozen_points=api_job.usage.frozen,
                                       submitted_at=now, queue_position=None)
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
            # the job exists and is paid for: keep trying to record it (then it is followed and shown as usual);
            # meanwhile it keeps its place at the API, as it should
            task = asyncio.create_task(self._record_later(job.id, changes), name=f"record-{job.id}")
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            raise SubmittedButUnrecorded(api_job.job_id)
        log.info("job %d submitted as %s (%s by %d)", job.id, api_job.job_id, job.action, job.requester_id)
        return job

    async def _submit_one(self, req: m.SubmitRequest) -> m.Job:
        try:
            return await self.api.submit(req)
        finally:
            self._submit_slots.release()

    async def _record_later(self, local_id: int, changes: dict[str, Any]) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                job = await self.repo.update(local_id, **changes)
            except Exception as e:
                log.warning("recording submitted job %d (%s) still fails: %s", local_id, changes.get("job_id"), e)
                delay = min(delay * 2, RECORD_RETRY_MAX_S)
                continue
            log.info("job %d (%s) recorded after all; following it", local_id, changes.get("job_id"))
            self.tracker.track(job)
            if self.show is not None:
                try:
                    await self.show(job)
                except Exception as e:
                    log.info("could not show job %d: %s", local_id, e)
            return

    def _pause(self, seconds: float) -> None:
        self._not_before = max(self._not_before, time.monotonic() + seconds)
        self.wake()

    async def _refused(self, job: JobRecord, reason: str, *, inline: bool) -> JobRecord:
        """The API refused the submit (nothing charged). Inline, the member is told ephemerally and nothing is owed;
        from the queue, the job's public message shows the reason."""
        self.wake()  # its place at the API is free again
        now = time.time()
        if inline:
            return await self.repo.update(job.id, status=JobStatus.FAILED, error=reason or "refused",
                                          finished_at=now, delivered_at=now, ack_token=None, ack_app_id=None)
        return await self.repo.update(job.id, status=JobStatus.FAILED, error=reason or "refused", finished_at=now)

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
