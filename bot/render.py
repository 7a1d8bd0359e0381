"""Pure functions from a job record to what Discord shows: `render_job(job) -> Rendered(content, embed, view)`.

No I/O here, so every screen can be tested without a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot import actions as A
from bot.buttons import JobButton
from bot.custom_ids import CustomId
from bot.text import strip_invisible

CONTENT_LIMIT = 2000
PROMPT_IN_CONTENT = 1500
EMBED_DESC_LIMIT = 4000

COLOUR_RUNNING = discord.Colour.blurple()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()
COLOUR_UNKNOWN = discord.Colour.orange()


@dataclass
class Rendered:
    content: str
    embed: discord.Embed | None
    view: discord.ui.View | None


def safe_text(text: str, limit: int) -> str:
    """Markdown escaped, @everyone/@here defused, bidi overrides and other invisible characters removed, cut to
    `limit` characters."""
    # one line: a newline would let `> quote` or `# heading` markdown in through the start of a line
    text = " ".join(strip_invisible(text).split())
    return _cut(discord.utils.escape_mentions(discord.utils.escape_markdown(text)), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def model_label(model: str) -> str:
    return "Niji 6" if model.startswith("niji") else f"V{model}"


def status_words(job: Any) -> str:
    if job.status in ("submitting", "pending", "staged"):
        return "(Waiting to start)"
    if job.status == "processing":
        started = int(job.started_at or job.submitted_at or job.created_at)
        return f"(Running, started <t:{started}:R>)"
    if job.status == "failed":
        return "(Failed)"
    if job.status == "unknown":
        return "(Outcome unknown)"
    return ""


def headline(job: Any) -> str:
    """`**prompt** - <describes> <@requester> (status)`, the way Midjourney writes it."""
    prompt = safe_text(job.prompt or job.action, PROMPT_IN_CONTENT)
    describes = str(job.extra.get("describes") or "")
    who = f"<@{job.requester_id}>"
    middle = f"{describes} by {who}" if describes and not describes.startswith("Image #") else (
        f"{describes} {who}" if describes else who)
    line = f"**{prompt}** - {middle}"
    words = status_words(job)
    line = f"{line} {words}" if words else line
    return line[:CONTENT_LIMIT]


def footer(job: Any) -> str:
    out = job.output or {}
    parts = [model_label(str(job.extra.get("model", "7")))]
    if out.get("seed"):
        parts.append(f"seed {out['seed']}")
    if job.job_id:
        parts.append(f"job {job.job_id}")
    points = job.points  # what it cost once finished (a failed one is refunded), else what is frozen for it
    if points:
        parts.append(f"{points} points")
    return " · ".join(parts)


def result_urls(job: Any) -> list[str]:
    """The images (or videos) a finished job shows: the grid, else the separate images."""
    out = job.output or {}
    if out.get("video_urls"):
        return list(out["video_urls"])
    if out.get("image_url"):
        return [str(out["image_url"])]
    return [str(u) for u in out.get("image_urls") or []]


def build_view(job: Any) -> discord.ui.View | None:
    """The buttons a finished job offers (and only those)."""
    if job.status != "completed" or not job.job_id:
        return None
    model = str(job.extra.get("model", "7"))
    items: list[JobButton] = []
    if job.task_type in A.GRID_TASKS:
        available = (job.output or {}).get("available_actions")
        for action in A.grid_actions():
            index = A.index_of(action, 0)
            if A.offered(action, index, available, model):
                items.append(JobButton.make(action, CustomId(action.name, job.job_id, index)))
    elif job.task_type in A.UPSCALE_TASKS and job.parent_job_id is not None and job.image_no is not None:
        available = job.extra.get("parent_actions")
        for action in A.upscaled_actions():
            if A.offered(action, job.image_no, available, model):
                items.append(JobButton.make(action, CustomId(action.name, job.parent_job_id, job.image_no)))
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def render_job(job: Any, *, attached: Sequence[str] = ()) -> Rendered:
    """Content, embed and view for `job`. `attached` names the files uploaded with the message, if any."""
    content = headline(job)
    if job.status == "completed":
        embed = discord.Embed(colour=COLOUR_DONE, description=safe_text(job.prompt, EMBED_DESC_LIMIT) or None)
        urls = result_urls(job)
        images = [n for n in attached if not n.endswith(".mp4")]
        if len(attached) == 1 and images:
            embed.set_image(url=f"attachment://{images[0]}")
        elif not attached and urls and not (job.output or {}).get("video_urls"):
            embed.set_image(url=urls[0])
        if not attached and (job.output or {}).get("video_urls"):
            embed.add_field(name="Videos", value="\n".join(f"[clip {i + 1}]({u})" for i, u in enumerate(urls))[:1024])
        embed.set_footer(text=footer(job))
        return Rendered(content, embed, build_view(job))
    if job.status in ("failed", "unknown"):
        reason = safe_text(job.error or "no reason given", 1000)
        colour = COLOUR_FAILED if job.status == "failed" else COLOUR_UNKNOWN
        title = "This job failed" if job.status == "failed" else "This job's outcome is unknown"
        description = f"Reason: {reason}"
        if job.status == "unknown":
            description += ("\nLegnext didn't confirm whether it started, so it may have been charged. "
                            "The bot did not send it again, to avoid paying twice.")
        embed = discord.Embed(colour=colour, title=title, description=description)
        embed.set_footer(text=footer(job))
        return Rendered(content, embed, None)
    return Rendered(content, None, None)


def error_text(sentence: str) -> str:
    """The bot's own sentences use markdown on purpose (`--chaos`, `/imagine`): only mentions are defused."""
    return _cut(discord.utils.escape_mentions(sentence.replace("\r", " ")), CONTENT_LIMIT)
