"""Shows jobs in Discord with the bot token: posts the job message, edits it as the status changes (throttled),
and finishes it with the result re-hosted as an attachment. Never relies on the 15-minute interaction token.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import discord

from bot.errors import Alert
from bot.images import download
from bot.render import render_job, result_urls
from bot.repo import JobRecord

if TYPE_CHECKING:
    from bot.app import MJBot

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
ALERT_EVERY_S = 6 * 3600

ALERT_TEXT = {
    Alert.OUT_OF_CREDITS: "⚠️ The Legnext balance has run out: members can't start new jobs until it is topped up.",
    Alert.BAD_KEY: "⚠️ Legnext refused the bot's API key (legnext.api_key / LEGNEXT_API_KEY). "
                   "Members can't start jobs until it is fixed.",
}


class Presenter:
    def __init__(self, bot: MJBot) -> None:
        self.bot = bot
        self._last_edit: dict[int, float] = {}
        self._pending: dict[int, asyncio.Task[None]] = {}
        self.edits = 0  # message edits made (for the benchmark)
        self.posts = 0
        self.finished_at: dict[int, float] = {}  # local id -> when its result was sent (for the benchmark)

    @property
    def interval(self) -> float:
        return self.bot.settings.jobs.status_edit_interval_s

    def _channel(self, channel_id: int, guild_id: int | None = None) -> discord.PartialMessageable:
        # with the guild, a posted message's jump_url is .../channels/<guild>/<channel>/<id>, not .../@me/...
        return self.bot.get_partial_messageable(channel_id, guild_id=guild_id)

    async def post(self, job: JobRecord, channel: Any, reply_to: int | None = None,
                   files: list[discord.File] | None = None) -> discord.Message:
        """Post the public job message (replying to the message whose button started it)."""
        if job.channel_id is None:
            raise RuntimeError("job has no channel")
        target = self._channel(job.channel_id, job.guild_id)
        r = render_job(job, attached=[f.filename for f in files or []])
        kwargs: dict[str, Any] = {"content": r.content, "allowed_mentions": NO_PINGS}
        if r.embed is not None:
            kwargs["embed"] = r.embed
        if r.view is not None:
            kwargs["view"] = r.view
        if files:
            kwargs["files"] = files
        if reply_to is not None:
            kwargs["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=job.channel_id, fail_if_not_exists=False)
            kwargs["mention_author"] = False
        message = await target.send(**kwargs)
        self.posts += 1
        self._last_edit[job.id] = time.monotonic()
        return message

    async def show(self, job: JobRecord, final: bool) -> None:
        """Called by the tracker after the database has the new state."""
        if not final:
            wait = self.interval - (time.monotonic() - self._last_edit.get(job.id, 0.0))
            if wait > 0:
                if job.id not in self._pending:
                    self._pending[job.id] = asyncio.create_task(self._later(job.id, wait))
                return
            await self._update(job, [])
            return
        pending = self._pending.pop(job.id, None)
        if pending is not None and pending is not asyncio.current_task():
            pending.cancel()
        files = await self._files(job) if job.status == "completed" else []
        await self._update(job, files)
        self.finished_at[job.id] = time.monotonic()
        self._last_edit.pop(job.id, None)

    async def _later(self, local_id: int, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
            self._pending.pop(local_id, None)
            job = await self.bot.jobs_repo.get(local_id)
            if job is not None and not job.finished and job.shown_status != job.status:
                await self._update(job, [])
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delayed status edit of job %d failed", local_id)

    async def _files(self, job: JobRecord) -> list[discord.File]:
        cfg = self.bot.settings.jobs
        if not cfg.rehost_images:
            return []
        urls = result_urls(job)
        max_bytes = int(cfg.max_download_mb * 1024 * 1024)
        extra_hosts = frozenset(h for h in [urlsplit(self.bot.settings.legnext.base_url).hostname] if h)
        stem = (job.job_id or str(job.id))[:36]
        results = await asyncio.gather(*[
            download(self.bot.http_client, url, max_bytes=max_bytes, extra_hosts=extra_hosts,
                     stem=stem if len(urls) == 1 else f"{stem}_{i}")
            for i, url in enumerate(urls[:4])
        ])
        got = [r for r in results if r is not None]
        if len(got) != len(results) or sum(len(r.data) for r in got) > max_bytes:
            return []  # all or nothing: a partial set would hide images; links are shown instead
        return [discord.File(io.BytesIO(r.data), filename=r.filename) for r in got]

    async def _update(self, job: JobRecord, files: list[discord.File]) -> None:
        if job.channel_id is None:
            log.warning("job %d has no channel to show it in", job.id)
            return
        if job.message_id is None:
            message = await self.post(job, None, job.reply_to_id, files)
            await self.bot.jobs_repo.update(job.id, message_id=message.id, shown_status=job.status)
            return
        r = render_job(job, attached=[f.filename for f in files])
        partial = self._channel(job.channel_id).get_partial_message(job.message_id)
        try:
            await partial.edit(content=r.content, embed=r.embed, view=r.view, attachments=files,
                               allowed_mentions=NO_PINGS)
        except discord.NotFound:
            # the message was deleted: show the job in a new one
            for f in files:
                f.reset()
            message = await self.post(job, None, None, files)
            await self.bot.jobs_repo.update(job.id, message_id=message.id, shown_status=job.status)
            return
        self.edits += 1
        self._last_edit[job.id] = time.monotonic()
        await self.bot.jobs_repo.update(job.id, shown_status=job.status)

    async def alert(self, kind: Alert) -> None:
        """Tell the moderators' channel, once per kind every few hours (remembered across restarts)."""
        channel_id = self.bot.settings.moderation.alert_channel_id
        key = f"alerted:{kind.value}"
        last = await self.bot.db.get_meta(key)
        if last is not None and time.time() - float(last) < ALERT_EVERY_S:
            return
        await self.bot.db.set_meta(key, str(time.time()))
        log.warning("alert: %s", kind.value)
        if not channel_id:
            return
        try:
            await self._channel(channel_id).send(ALERT_TEXT[kind], allowed_mentions=NO_PINGS)
        except discord.HTTPException as e:
            log.warning("could not post an alert: %s", e)

    async def stop(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        for task in list(self._pending.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending.clear()
