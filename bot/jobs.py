"""Business rules of starting a job: checks that cost nothing, then record, then submit. No Discord here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot import actions as A
from bot.config import Settings
from bot.errors import (
    AlreadyRequested,
    BadInput,
    BotLacksPermissions,
    Expired,
    NotAllowed,
    NotAvailable,
    OutcomeUnknownAgain,
    SubmittedButUnrecorded,
    TooManyJobs,
    UserError,
)
from bot.legnext import models as m
from bot.legnext.client import LegnextClient, build
from bot.legnext.errors import LegnextError, NotFound, SubmitOutcomeUnknown
from bot.permissions import missing_for_results
from bot.prompt import apply_defaults, check_prompt, parse_prompt
from bot.regions import mask_for, parse_cells
from bot.repo import DuplicateJob, JobRecord, JobRepo, RunningLimitReached, SettingsRepo
from bot.text import clean_api_text
from bot.tracker import Tracker

log = logging.getLogger(__name__)


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


GRID_SIZE = 4  # images in a grid: every button's image number is below this

# /settings keys -> prompt flag defaults (see bot.prompt.apply_defaults)
FLAG_SETTINGS = ("version", "aspect", "stylize", "speed")


def defaults_from(settings: dict[str, Any]) -> dict[str, str | None]:
    return {k: str(settings[k]) for k in FLAG_SETTINGS if settings.get(k)}


def job_id_of(job: JobRecord) -> str:
    """The Legnext job a follow-up was made on (what its button's custom_id names)."""
    return job.parent_job_id or ""


def message_link(job: JobRecord) -> str | None:
    if job.guild_id and job.channel_id and job.message_id:
        return f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.message_id}"
    return None


class JobService:
    def __init__(
        self, *, api: LegnextClient, repo: JobRepo, settings_repo: SettingsRepo, config: Settings, tracker: Tracker,
        owe: Callable[[JobRecord], None],
    ) -> None:
        self.api = api
        self.repo = repo
        self.settings_repo = settings_repo
        self.config = config
        self.tracker = tracker
        self.owe = owe  # hands a finished job to delivery (shown in the channel until Discord accepted it)

    # ------------------------------------------------------------------------------------------------ /imagine

    def check_channel(self, where: Where) -> None:
        """Can the bot show a result where the member asked? Raises `BotLacksPermissions` naming what's missing."""
        if where.bot_permissions is None:
            return
        missing = missing_for_results(where.bot_permissions, in_thread=where.in_thread,
                                      attach_files=self.config.jobs.rehost_images,
                                      replies=where.reply_to_id is not None)
        if missing:
            raise BotLacksPermissions(missing)

    async def prepare_imagine(self, member: Member, prompt: str, where: Where | None = None) -> str:
        """The prompt with the member's defaults, checked. Raises `PromptError` (costs nothing, sends nothing)."""
        if where is not None:
            self.check_channel(where)
        settings = await self.settings_repo.get(member.id)
        full = apply_defaults(prompt.strip(), defaults_from(settings))
        # the API gets the normalised form: `—ar 16:9` typed on a phone is sent as `--ar 16:9`
        normalised = check_prompt(full).render()
        await self._check_quota(member)
        return normalised

    async def imagine(self, member: Member, where: Where, prompt: str) -> JobRecord:
        full = await self.prepare_imagine(member, prompt, where)
        req = build(m.Diffusion, text=full)
        return await self._submit(
            req, action="imagine", member=member, where=where, prompt=full,
            extra={"model": parse_prompt(full).version},
        )

    # ------------------------------------------------------------------------------------------------ buttons

    async def source_for_press(self, action_name: str, job_id: str, index: int, member: Member) -> JobRecord:
        """Check a press before anything is shown or spent: known job, access, window, availability, quota."""
        action = A.ACTIONS.get(action_name)
        if action is None:
            raise NotAvailable("That button is no longer supported.")
        source = await self.repo.by_job_id(job_id)
        if source is None or source.status != "completed":
            raise NotAvailable("I have no finished job behind that button any more, so it can't be used.")
        self._check_access(source, member)
        if time.time() - (source.submitted_at or source.created_at) > A.FOLLOW_UP_WINDOW_S:
            raise Expired()
        image_no = A.index_of(action, index)
        available = (source.output or {}).get("available_actions")
        if not 0 <= image_no < GRID_SIZE or not A.offered(
            action, image_no, available, str(source.extra.get("model", "7"))
        ):
            raise NotAvailable("That action isn't offered for this image.")
        await self._check_quota(member)
        return source

    async def existing_press(self, action_name: str, job_id: str, index: int) -> JobRecord | None:
        """The live job an earlier press of the same button started (before any modal is shown); one whose
        outcome is unknown counts too (pressing again needs a confirmation)."""
        action = A.ACTIONS.get(action_name)
        if action is None:
            return None
        key = A.dedupe_key(action, job_id, A.index_of(action, index))
        job = await self.repo.by_dedupe_key(key)
        return job if job is not None and job.status != "failed" else None

    def refuse_existing(self, existing: JobRecord, action_name: str, job_id: str, index: int) -> UserError:
        """The sentence for a press whose button already has a job: its link, or the confirmation to pay again
        (offered as a button only for a plain press: a remix, zoom or region is asked again by its own form)."""
        if existing.status == "unknown":
            action = A.ACTIONS.get(action_name)
            plain = action is not None and existing.dedupe_key == A.dedupe_key(action, job_id, index)
            return OutcomeUnknownAgain(action_name, job_id, index, message_link(existing), confirmable=plain)
        return AlreadyRequested(message_link(existing))

    async def press(
        self,
        action_name: str,
        job_id: str,
        index: int,
        member: Member,
        where: Where,
        *,
        remix_prompt: str | None = None,
        scale: float | None = None,
        cells: str | None = None,
        again_after_unknown: bool = False,
    ) -> JobRecord:
        self.check_channel(where)
        source = await self.source_for_press(action_name, job_id, index, member)
        action = A.ACTIONS[action_name]
        index = A.index_of(action, index)
        settings = await self.settings_repo.get(member.id)
        mask = None
        if remix_prompt is not None:
            remix_prompt = remix_prompt.strip()
            if not remix_prompt:
                raise BadInput("The prompt can't be empty.")
            remix_prompt = check_prompt(remix_prompt).render()  # `—ar 16:9` from a phone is sent as `--ar 16:9`
            if remix_prompt == source.prompt and action.modal is None:
                remix_prompt = None  # unchanged: a plain follow-up, same as with remix mode off
        if action.modal == "zoom":
            if scale is None or not 1.1 <= scale <= 2.0:
                raise BadInput("The zoom must be a number from 1.1 to 2.0, like `1.5`.")
        if action.modal == "region":
            try:
                mask = mask_for(parse_cells(cells or ""), source.prompt)
            except ValueError:
                raise BadInput("Pick at least one region of the image to vary.") from None
        ctx = A.Ctx(
            job_id=source.job_id or job_id, index=index, prompt=source.prompt,
            variation_high=settings.get("variation", "high") != "low", remix_prompt=remix_prompt, scale=scale,
            mask=mask,
        )
        req = action.build(ctx)
        is_grid = source.task_type in A.GRID_TASKS
        extra = {
            "model": source.extra.get("model", "7"),
            "source_task": source.task_type,
            "describes": action.describes.format(n=index + 1),
            # buttons under an upscaled image are offered according to the grid's actions
            "parent_actions": (source.output or {}).get("available_actions") if is_grid else None,
        }
        return await self._submit(
            req, action=action_name, member=member, where=where, prompt=remix_prompt or source.prompt, extra=extra,
            parent_job_id=source.job_id, image_no=index,
            # another zoom scale, like another region, is another request
            dedupe=A.dedupe_key(action, job_id, index, remix_prompt, cells or (f"{scale:g}" if scale else None)),
            again_after_unknown=again_after_unknown,
        )

    # ------------------------------------------------------------------------------------------------ internals

    def _check_access(self, source: JobRecord, member: Member) -> None:
        mode = self.config.jobs.button_access
        if mode == "anyone" or member.id == source.requester_id:
            return
        if mode == "requester_and_moderators" and member.is_moderator:
            return
        who = "the member who made it" + (" or a moderator" if mode == "requester_and_moderators" else "")
        raise NotAllowed(f"Only {who} can use the buttons on this image.")

    async def _check_quota(self, member: Member) -> None:
        """An early, friendly refusal; the limit itself is enforced where the job is recorded."""
        limit = self.config.jobs.max_running_per_member
        if await self.repo.running_count(member.id) >= limit:
            raise self._too_many(limit)

    @staticmethod
    def _too_many(limit: int) -> TooManyJobs:
        return TooManyJobs(
            f"You already have {limit} jobs running. Please wait for one to finish before starting another."
        )

    async def _submit(
        self,
        req: m.SubmitRequest,
        *,
        action: str,
        member: Member,
        where: Where,
        prompt: str,
        extra: dict[str, Any],
        parent_job_id: str | None = None,
        image_no: int | None = None,
        dedupe: str | None = None,
        again_after_unknown: bool = False,
    ) -> JobRecord:
        """Record first (with the running limit and the double-press rule in the same step), then submit. A submit
        whose outcome is unknown is never sent again; it is shown in the channel as such."""
        try:
            job = await self.repo.create(
                task_type=req.task_type, action=action, requester_id=member.id, prompt=prompt, request=req.body(),
                extra=extra, parent_job_id=parent_job_id, image_no=image_no, guild_id=where.guild_id,
                channel_id=where.channel_id, reply_to_id=where.reply_to_id, dedupe_key=dedupe,
                max_running=self.config.jobs.max_running_per_member, again_after_unknown=again_after_unknown,
                answer_to=where.answer_to,
            )
        except DuplicateJob as dup:
            existing = await self.wait_for_message(dup.existing)
            raise self.refuse_existing(existing, action, job_id_of(dup.existing), image_no or 0) from None
        except RunningLimitReached as e:
            raise self._too_many(e.limit) from None
        try:
            api_job = await self.api.submit(req)
        except SubmitOutcomeUnknown as e:
            job = await self.repo.update(job.id, status="unknown", error=clean_api_text(e.message),
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
            # Cancelled or crashed mid-submit: the job may exist; never resubmit.
            await self.repo.update(job.id, status="unknown", error="interrupted while submitting",
                                   finished_at=time.time())
            raise
        status = api_job.status if api_job.status in ("pending", "staged", "processing") else "pending"
        changes: dict[str, Any] = dict(job_id=api_job.job_id, status=status, frozen_points=api_job.usage.frozen,
                                       submitted_at=time.time())
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
        log.info("job %d submitted as %s (%s by %d)", job.id, api_job.job_id, action, member.id)
        return job

    async def _refused(self, job: JobRecord, reason: str) -> None:
        """The API refused the submit (nothing charged): the member is told ephemerally; nothing is owed."""
        now = time.time()
        await self.repo.update(job.id, status="failed", error=reason or "refused", finished_at=now, delivered_at=now,
                               ack_token=None, ack_app_id=None)

    async def wait_for_message(self, job: JobRecord, wait_s: float = 5.0) -> JobRecord:
        """`job` once its public message is posted (a press at the same moment is still posting it)."""
        deadline = time.monotonic() + wait_s
        while job.message_id is None and not job.finished and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            job = await self.repo.get(job.id) or job
        return job

    async def attach_message(self, job: JobRecord, message_id: int | None, channel_id: int | None) -> JobRecord:
        """The public message exists (or could not be posted): from now on the tracker owns the job."""
        if message_id is not None:
            job = await self.repo.update(job.id, message_id=message_id, channel_id=channel_id,
                                         shown_status=job.status)
        self.tracker.track(job)
        return job

    async def forget_ack(self, job: JobRecord) -> None:
        """The member's "thinking…" answer was resolved (the interaction token is not kept any longer)."""
        await self.repo.update(job.id, ack_token=None, ack_app_id=None)
