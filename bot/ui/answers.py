"""The member's own answer once a job reached the API: where it is. Never "try again" (that would pay twice)."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.core.launcher import Launch, Launcher, Member, Where, message_link
from bot.storage.jobs import JobRecord
from bot.ui.errors import NO_PINGS
from bot.vocabulary import JobStatus

log = logging.getLogger(__name__)


def started_text(job: JobRecord) -> str:
    link = message_link(job)
    if job.status == JobStatus.QUEUED:
        position = f" (position {job.queue_position})" if job.queue_position else ""
        where = f": {link}" if link else "; its message will appear in this channel"
        return (f"Queued{position}: it starts when it's your turn{where}. Nothing is charged until it starts, "
                "and you can cancel it there until then.")
    if link:
        return f"Started: {link}"
    return ("Started: your job is running at Legnext. I couldn't post its message in this channel yet; "
            "its result will appear here when it's done.")


async def answer_started(interaction: discord.Interaction[Any], launcher: Launcher, job: JobRecord,
                         note: str = "") -> None:
    """Resolve the member's "thinking…" with the job's link (ephemeral), and `note` (e.g. its price) on a line of
    its own; once told, the token is forgotten."""
    text = f"{started_text(job)}\n{note}" if note else started_text(job)
    try:
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as e:
        log.info("could not answer the member about job %d: %s", job.id, e)
        return
    try:
        await launcher.forget_ack(job)
    except Exception as e:  # shutting down meanwhile: a restart resolves it again at worst (answer_text)
        log.info("could not forget the answer token of job %d: %s", job.id, e)


async def start_job(interaction: discord.Interaction[Any], launcher: Launcher, what: Launch, member: Member,
                    where: Where, *, note: str = "") -> JobRecord:
    """What a command does once its input is checked: refuse what costs nothing to refuse, `defer()`, start the
    job through the launcher, and tell the member where it is (and `note`)."""
    await launcher.check_free(member, where, what)
    await interaction.response.defer(ephemeral=True, thinking=True)
    job = await launcher.launch(what, member, where)
    await answer_started(interaction, launcher, job, note)
    return job
