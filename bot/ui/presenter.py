"""Shows jobs in Discord with the bot token: posts the job message, edits it as the status changes (throttled),
and finishes it with the result re-hosted as an attachment. Never relies on the 15-minute interaction token.

The final message is made by `deliver`, which `bot.delivery.Delivery` calls until Discord accepted it: Discord's
answers are translated into `DeliveryFailed` (try again later), `AttachmentsRefused` (show links instead) and
`CannotDeliver` (the channel is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import logging
import secrets
import time
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import discord
import httpx

from bot.config import Settings
from bot.core.alerts import REFUSED_TEXT
from bot.core.delivery import AttachmentsRefused, CannotDeliver, DeliveryFailed, FilesUnavailable
from bot.core.launcher import message_link
from bot.core.media import DownloadFailed, download
from bot.core.metrics import Metrics
from bot.storage.jobs import JobRecord, JobRepo, replace
from bot.storage.meta import MetaRepo
from bot.ui.answers import started_text
from bot.ui.screens import CONTENT_LIMIT, NO_PINGS, Screens, result_urls, shown, who_and_what
from bot.vocabulary import FINISHED, JobStatus

log = logging.getLogger(__name__)

ORPHAN_LOOKBACK = 50  # messages of channel history searched for a job message posted just before a crash

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
INVALID_FORM_BODY = 50035
TOO_LARGE = 40005

ALERT_TEXT = REFUSED_TEXT  # the alert texts are the core's (bot.core.alerts)


ANSWER_TTL_S = 14 * 60  # interaction tokens last 15 minutes


def answer_text(job: JobRecord) -> str:
    """The member's own (ephemeral) answer about a job that reached the API, whatever its state: never "try
    again"."""
    link = message_link(job)
    if job.status == JobStatus.COMPLETED:
        return f"Done: {link}" if link else "Done: its result is in this channel."
    if job.status in FINISHED:
        where = f" {link}" if link else ""
        return f"Your job ended without a result; the reason is shown in this channel.{where}"
    return started_text(job)


def retry_after_of(e: discord.HTTPException) -> float | None:
    """Seconds Discord asked to wait (a 429 discord.py did not wait out itself): its header, else its body."""
    headers = getattr(e.response, "headers", None) or {}
    for value in (headers.get("Retry-After"), headers.get("X-RateLimit-Reset-After")):
        try:
            if value is not None:
                return max(0.0, float(value))
        except ValueError:
            continue
    return None


def replace_message(job: JobRecord, message_id: int) -> JobRecord:
    return replace(job, message_id=message_id)


class Presenter:
    def __init__(self, client: discord.Client, *, settings: Settings, jobs: JobRepo, meta: MetaRepo,
                 http: httpx.AsyncClient, metrics: Metrics | None = None) -> None:
        self.client = client
        self.settings = settings
        self.jobs = jobs
        self.meta = meta
        self.http = http
        self.screens = Screens()  # each feature registers how its jobs look
        self._last_edit: dict[int, float] = {}
        self._pending: dict[int, asyncio.Task[None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.metrics = metrics or Metrics()

    @property
    def interval(self) -> float:
        return self.settings.jobs.status_edit_interval_s

    def _channel(self, channel_id: int, guild_id: int | None = None) -> discord.PartialMessageable:
        # with the guild, a posted message's jump_url is .../channels/<guild>/<channel>/<id>, not .../@me/...
        return self.client.get_partial_messageable(channel_id, guild_id=guild_id)

    async def post(self, job: JobRecord, channel: Any, reply_to: int | None = None,
                   files: list[discord.File] | None = None, *, again: bool = False) -> discord.Message:
        """Post the public job message (replying to the message whose button started it).

        The message carries a nonce made from the job (Discord's `enforce_nonce`): a post Discord already made but
        the bot never heard back about (a 5xx after the fact, a crash) returns that message instead of a second one.
        `again` posts a new one on purpose (the first was deleted)."""
        channel_id = job.channel_id
        if channel_id is None:
            raise RuntimeError("job has no channel")
        if job.posting_at is None:  # so that a crash right after the post can find the message again
            job = await self.jobs.update(job.id, posting_at=time.time())
        target = self._channel(channel_id, job.guild_id)
        r = self.screens.render(job, [f.filename for f in files or []])
        nonce = f"mj{job.id}" + (f"-{secrets.token_hex(4)}" if again else "")
        kwargs: dict[str, Any] = {"content": r.content, "allowed_mentions": NO_PINGS, "nonce": nonce}
        if r.embed is not None:
            kwargs["embed"] = r.embed
        if r.view is not None:
            kwargs["view"] = r.view
        if files:
            kwargs["files"] = files
        if reply_to is not None:
            kwargs["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=channel_id, fail_if_not_exists=False)
            kwargs["mention_author"] = False
        message = await target.send(**kwargs)
        self.metrics.discord_calls.labels(kind="post").inc()
        self._last_edit[job.id] = time.monotonic()
        return message

    async def announce(self, job: JobRecord) -> JobRecord:
        """Post the message of a job the API just accepted and record it. Best effort: when Discord refuses or
        fails, the tracker and delivery post it later; the job is running either way."""
        try:
            async with self._lock(job.id):
                fresh = await self.jobs.get(job.id) or job
                if fresh.message_id is not None:  # the queue sent it and showed it meanwhile
                    await self._update(fresh, [])
                    return await self.jobs.get(job.id) or fresh
                message = await self.post(fresh, None, fresh.reply_to_id)
                return await self.jobs.update(job.id, message_id=message.id, shown_status=shown(fresh))
        except Exception as e:
            log.warning("could not post the message of job %d yet: %s", job.id, e)
            return await self.jobs.get(job.id) or job

    def _lock(self, local_id: int) -> asyncio.Lock:
        lock = self._locks.get(local_id)
        if lock is None:
            lock = self._locks[local_id] = asyncio.Lock()
        return lock

    async def show_status(self, job: JobRecord) -> None:
        """A status change of a running job (throttled; best effort: the final result never depends on it)."""
        wait = self.interval - (time.monotonic() - self._last_edit.get(job.id, 0.0))
        if wait > 0:
            if job.id not in self._pending:
                self._pending[job.id] = asyncio.create_task(self._later(job.id, wait))
            return
        try:
            async with self._lock(job.id):
                await self._update(job, [])
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.info("status edit of job %d failed: %s", job.id, e)

    async def deliver(self, job: JobRecord, links_only: bool = False) -> None:
        """Show the finished `job` for good. Raises `DeliveryFailed`, `AttachmentsRefused` or `CannotDeliver`."""
        pending = self._pending.pop(job.id, None)
        if pending is not None and pending is not asyncio.current_task():
            pending.cancel()
        if job.channel_id is None:
            raise CannotDeliver("the job has no channel to show it in")
        try:
            files = await self._files(job) if job.status == JobStatus.COMPLETED and not links_only else []
        except DownloadFailed as e:
            raise FilesUnavailable(str(e)) from None
        try:
            async with self._lock(job.id):
                await self._update(job, files)
        except discord.HTTPException as e:
            raise self._delivery_error(e, bool(files)) from None
        except discord.RateLimited as e:  # only when a wait would exceed discord.py's max_ratelimit_timeout
            raise DeliveryFailed("rate limited by Discord", retry_after=e.retry_after) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise DeliveryFailed(f"cannot reach Discord ({type(e).__name__})") from None
        self._last_edit.pop(job.id, None)
        self._locks.pop(job.id, None)

    @staticmethod
    def _delivery_error(e: discord.HTTPException, had_files: bool) -> Exception:
        what = f"Discord answered {e.status} (code {e.code})"
        if e.status == 413 or e.code == TOO_LARGE:
            return AttachmentsRefused(f"{what}: the files are too large")
        if e.code == UNKNOWN_CHANNEL:
            return CannotDeliver("the channel is gone")
        if e.code == MISSING_PERMISSIONS and had_files:
            return AttachmentsRefused(f"{what}: missing permissions (maybe Attach Files)")
        if e.code == INVALID_FORM_BODY and had_files:
            return AttachmentsRefused(f"{what}: the message with files was refused")
        if e.code == INVALID_FORM_BODY:
            log.error("Discord refused a result message as invalid: %s", e.text)
            return CannotDeliver(f"{what}: the message was refused as invalid")
        if e.status == 429:
            return DeliveryFailed(f"{what}: rate limited", retry_after=retry_after_of(e))
        return DeliveryFailed(what)

    async def _later(self, local_id: int, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
            self._pending.pop(local_id, None)
            job = await self.jobs.get(local_id)
            if job is not None and not job.finished and job.shown_status != shown(job):
                async with self._lock(job.id):
                    await self._update(job, [])
        except asyncio.CancelledError:
            raise
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.info("delayed status edit of job %d failed: %s", local_id, e)

    async def _files(self, job: JobRecord) -> list[discord.File]:
        cfg = self.settings.jobs
        if not cfg.rehost_images:
            return []
        urls = result_urls(job)
        max_bytes = int(cfg.max_download_mb * 1024 * 1024)
        limit = self.upload_limit(job)  # a file over the server's upload limit is linked instead (not refused)
        per_file = min(max_bytes, limit) if limit else max_bytes
        extra_hosts = frozenset(h for h in [urlsplit(self.settings.legnext.base_url).hostname] if h)
        stem = (job.job_id or str(job.id))[:36]
        results = await asyncio.gather(*[
            download(self.http, url, max_bytes=per_file, extra_hosts=extra_hosts,
                     stem=stem if len(urls) == 1 else f"{stem}_{i + 1}")  # numbered as on screen: 1 to 4
            for i, url in enumerate(urls[:4])
        ])
        got = [r for r in results if r is not None]
        if len(got) != len(results):
            return []  # all or nothing: a partial set would hide images; links are shown instead
        # each file within the cap (Discord's limit is per attachment): four clips of a few MB each are attached
        return [discord.File(io.BytesIO(r.data), filename=r.filename) for r in got]

    def upload_limit(self, job: JobRecord) -> int | None:
        """The largest file Discord takes in the job's server: the figure its interaction gave (`upload_limit`, kept
        with the job by features that know it), else what the server's boost level allows."""
        given = job.extra.get("upload_limit")
        if isinstance(given, int) and not isinstance(given, bool) and given > 0:
            return given
        guild = self.client.get_guild(job.guild_id) if job.guild_id else None
        return guild.filesize_limit if guild is not None else None

    async def _update(self, job: JobRecord, files: list[discord.File]) -> None:
        """Post or edit the job's message to show its current state (callers hold the job's lock)."""
        channel_id = job.channel_id
        if channel_id is None:
            log.warning("job %d has no channel to show it in", job.id)
            return
        fresh = await self.jobs.get(job.id)  # another update may have posted the message meanwhile
        if fresh is not None and fresh.finished and not job.finished:
            return  # a stale status (a queue position shown late) never covers the final message
        if fresh is not None and not job.finished and fresh.status != job.status:
            job = fresh  # a status that changed meanwhile (a queued job sent): show the newer one
        if fresh is not None and fresh.message_id is not None and job.message_id is None:
            job = replace_message(job, fresh.message_id)
        if job.message_id is None and job.posting_at is not None:
            found = await self._find_orphan(job)
            if found is not None:
                job = replace_message(job, found)
                await self.jobs.update(job.id, message_id=found)
        if job.message_id is None:
            message = await self.post(job, None, job.reply_to_id, files)
            await self.jobs.update(job.id, message_id=message.id, shown_status=shown(job))
            return
        r = self.screens.render(job, [f.filename for f in files])
        partial = self._channel(channel_id).get_partial_message(job.message_id)
        try:
            await partial.edit(content=r.content, embed=r.embed, view=r.view, attachments=files,
                               allowed_mentions=NO_PINGS)
        except discord.NotFound as e:
            if e.code != UNKNOWN_MESSAGE:
                raise
            # the message was deleted: show the job in a new one
            for f in files:
                f.reset()
            message = await self.post(job, None, None, files, again=True)
            await self.jobs.update(job.id, message_id=message.id, shown_status=shown(job))
            return
        self.metrics.discord_calls.labels(kind="edit").inc()
        self._last_edit[job.id] = time.monotonic()
        await self.jobs.update(job.id, shown_status=shown(job))

    async def _find_orphan(self, job: JobRecord) -> int | None:
        """The job message posted just before a crash, before its id could be recorded (found in the channel's
        recent history by its headline), so that the job is not shown twice."""
        if job.channel_id is None or job.posting_at is None or self.client.user is None:
            return None
        after = discord.Object(id=discord.utils.time_snowflake(
            datetime.datetime.fromtimestamp(job.posting_at - 5, tz=datetime.UTC)))
        prefix = who_and_what(job)[:CONTENT_LIMIT]
        try:
            async for message in self._channel(job.channel_id, job.guild_id).history(
                    limit=ORPHAN_LOOKBACK, after=after, oldest_first=True):
                if (message.author.id == self.client.user.id and message.content.startswith(prefix)
                        and await self.jobs.by_message(message.id) is None):
                    log.info("job %d: found its message %d posted before a restart", job.id, message.id)
                    return message.id
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.info("could not look for the message of job %d: %s", job.id, e)
        return None

    async def resolve_answers(self) -> None:
        """Members whose "thinking…" answer was left unresolved by a crash or restart are told where their job is
        (interaction tokens last 15 minutes; older ones are only forgotten)."""
        for job in await self.jobs.unacknowledged():
            if job.ack_token and job.ack_app_id and time.time() - job.created_at < ANSWER_TTL_S:
                webhook = discord.Webhook.partial(job.ack_app_id, job.ack_token, client=self.client)
                try:
                    await webhook.edit_message(cast(int, "@original"), content=answer_text(job),
                                               allowed_mentions=NO_PINGS)
                except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as e:
                    log.info("could not resolve the answer about job %d: %s", job.id, e)
            await self.jobs.update(job.id, ack_token=None, ack_app_id=None)

    async def post_alert(self, text: str, nonce: str) -> bool:
        """Post an alert to the moderators' channel (`moderation.alert_channel_id`; without one it is only
        logged). False when Discord did not take it (no access, an outage) or its answer was lost: the caller
        tries again later with the same `nonce` (one per alert; `enforce_nonce`), so an alert Discord made but
        never confirmed comes back instead of being posted twice. When to alert, and how often, is
        `bot.core.alerts.AlertWatch`'s business."""
        channel_id = self.settings.moderation.alert_channel_id
        if not channel_id:
            log.warning("alert (no moderation.alert_channel_id to post it in): %s", text)
            return True
        try:
            # discord.py sends enforce_nonce with every nonce
            await self._channel(channel_id).send(text[:CONTENT_LIMIT], allowed_mentions=NO_PINGS, nonce=nonce)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.warning("could not post an alert in channel %d (will try again): %s", channel_id, e)
            return False
        return True

    async def stop(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        for task in list(self._pending.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending.clear()
