"""The screens every feature shares: pure functions from a job record to what Discord shows, and the registry
through which the presenter asks the feature that owns a job's task how to render it.

No I/O here, so every screen can be tested without a connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.core.text import strip_invisible
from bot.ui.custom_ids import format_id
from bot.vocabulary import WAITING, JobStatus

NO_PINGS = discord.AllowedMentions.none()  # every message the bot sends: mentions in prompts never ping
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
    text = discord.utils.escape_markdown(text)
    # then every bracket and parenthesis not escaped yet: discord.py's pattern for masked links is greedy and leaves
    # every link after the first clickable
    text = _LINK_SYNTAX.sub(_escape_unescaped, text)
    return cut(discord.utils.escape_mentions(text), limit)


_LINK_SYNTAX = re.compile(r"(\\*)([\[\]()])")


def _escape_unescaped(m: re.Match[str]) -> str:
    slashes, char = m.group(1), m.group(2)
    return slashes + char if len(slashes) % 2 else slashes + "\\" + char


def cut(text: str, limit: int = CONTENT_LIMIT) -> str:
    """`text`, or its first `limit - 1` characters and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def model_label(model: str) -> str:
    if model == "video":  # Midjourney's video model (features showing videos record it so)
        return "Video"
    return "Niji 6" if model.startswith("niji") else f"V{model}"


def status_words(job: Any) -> str:
    if job.status == JobStatus.QUEUED:
        position = getattr(job, "queue_position", None)
        return f"(Queued: position {position})" if position else "(Queued)"
    if job.status == JobStatus.CANCELLED:
        return "(Cancelled)"
    if job.status in WAITING:
        return "(Waiting to start)"
    if job.status == JobStatus.PROCESSING:
        started = int(job.started_at or job.submitted_at or job.created_at)
        return f"(Running, started <t:{started}:R>)"
    if job.status == JobStatus.FAILED:
        return "(Failed)"
    if job.status == JobStatus.UNKNOWN:
        return "(Outcome unknown)"
    return ""


def who_and_what(job: Any) -> str:
    """`**prompt** - <describes> <@requester>`: the headline without its status."""
    prompt = safe_text(job.prompt or job.action, PROMPT_IN_CONTENT)
    describes = str(job.extra.get("describes") or "")
    who = f"<@{job.requester_id}>"
    middle = f"{describes} by {who}" if describes and not describes.startswith("Image #") else (
        f"{describes} {who}" if describes else who)
    return f"**{prompt}** - {middle}"


def headline(job: Any) -> str:
    """`**prompt** - <describes> <@requester> (status)`, the way Midjourney writes it."""
    line = who_and_what(job)
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
    if job.extra.get("simulated"):  # made by the embedded simulator (`mjbot --simulator`), not Midjourney
        parts.append("simulated")
    return " · ".join(parts)


def result_urls(job: Any) -> list[str]:
    """The images (or videos) a finished job shows: the grid, else the separate images."""
    out = job.output or {}
    if out.get("video_urls"):
        return list(out["video_urls"])
    if out.get("image_url"):
        return [str(out["image_url"])]
    return [str(u) for u in out.get("image_urls") or []]


def render_plain(job: Any, attached: Sequence[str] = (), view: discord.ui.View | None = None) -> Rendered:
    """Content, embed and `view` (shown once the job completed) for `job`. `attached` names the files uploaded
    with the message, if any."""
    content = headline(job)
    if job.status == JobStatus.COMPLETED:
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
        return Rendered(content, embed, view)
    if job.status in (JobStatus.FAILED, JobStatus.UNKNOWN):
        reason = safe_text(job.error or "no reason given", 1000)
        colour = COLOUR_FAILED if job.status == JobStatus.FAILED else COLOUR_UNKNOWN
        title = "This job failed" if job.status == JobStatus.FAILED else "This job's outcome is unknown"
        description = f"Reason: {reason}"
        if job.status == JobStatus.UNKNOWN and job.job_id:
            description += ("\nLegnext still has this job and may finish it (and charge it) after all: if it "
                            "does, its result will appear here. Pressing the same button again asks first.")
        elif job.status == JobStatus.UNKNOWN:
            description += ("\nLegnext didn't confirm whether it started, so it may have been charged. "
                            "The bot did not send it again, to avoid paying twice.")
        embed = discord.Embed(colour=colour, title=title, description=description)
        embed.set_footer(text=footer(job))
        return Rendered(content, embed, None)
    return Rendered(content, None, None)


def error_text(sentence: str) -> str:
    """The bot's own sentences use markdown on purpose (`--chaos`, `/imagine`): only mentions are defused."""
    return cut(discord.utils.escape_mentions(sentence.replace("\r", " ")), CONTENT_LIMIT)


def shown(job: Any) -> str:
    """What a job's message shows, to tell whether it needs an edit: its status, and a queued job's position."""
    if job.status == JobStatus.QUEUED:
        return f"queued:{getattr(job, 'queue_position', None) or ''}"
    return str(job.status)


CANCEL_LABEL = "Cancel"


def cancel_id(job: Any) -> str:
    """A queued job has no Legnext id yet: its Cancel button names the bot's own (`q<local id>`)."""
    return format_id("cancel", f"q{job.id}")


def render_queue_state(job: Any) -> Rendered:
    """A job waiting in the bot's queue (with its Cancel button), or one taken out of it."""
    content = headline(job)
    if job.status == JobStatus.QUEUED:
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(custom_id=cancel_id(job), label=CANCEL_LABEL,
                                        style=discord.ButtonStyle.secondary))
        return Rendered(content, None, view)
    who = f"<@{job.cancelled_by}>" if getattr(job, "cancelled_by", None) else "its member"
    embed = discord.Embed(colour=COLOUR_UNKNOWN, title="This job was cancelled",
                          description=f"Cancelled by {who} while it waited in the queue; it was never sent, "
                                      "so nothing was charged.")
    return Rendered(content, embed, None)


Renderer = Callable[[Any, Sequence[str]], Rendered]


class Screens:
    """Which feature renders which task types. Each extension registers its renderer in its `setup`; a task nobody
    registered is shown plainly (status, result, reason), without buttons."""

    def __init__(self) -> None:
        self._by_task: dict[str, Renderer] = {}

    def register(self, task_types: Iterable[str], renderer: Renderer) -> None:
        """`renderer` shows these task types; one task type has one owner (a second one is a mistake)."""
        taken = sorted(t for t in task_types if self._by_task.get(t) not in (None, renderer))
        if taken:
            raise ValueError(f"task types already rendered by another feature: {', '.join(taken)}")
        for task_type in task_types:
            self._by_task[task_type] = renderer

    def unregister(self, task_types: Iterable[str], renderer: Renderer) -> None:
        """Forget `renderer` for these task types (not another feature's)."""
        for task_type in task_types:
            if self._by_task.get(task_type) is renderer:
                del self._by_task[task_type]

    def render(self, job: Any, attached: Sequence[str] = ()) -> Rendered:
        if job.status in (JobStatus.QUEUED, JobStatus.CANCELLED):  # the queue's, whatever the task
            return render_queue_state(job)
        renderer = self._by_task.get(job.task_type)
        return renderer(job, attached) if renderer is not None else render_plain(job, attached)
