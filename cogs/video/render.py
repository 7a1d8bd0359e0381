"""How video jobs look (/video, Animate, Extend, video Upscale): while they run, the status with the time elapsed;
once finished, the clips numbered (attached, or linked when they can't be), and per clip the buttons its
`available_actions` offers. Pure: job records in, content / embed / buttons out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import discord

from bot.ui.custom_ids import CustomId
from bot.ui.screens import (
    COLOUR_DONE,
    CONTENT_LIMIT,
    EMBED_DESC_LIMIT,
    Rendered,
    footer,
    headline,
    render_plain,
    safe_text,
)
from bot.vocabulary import VIDEO_TASKS, WAITING, JobStatus
from cogs.video.buttons import button
from cogs.video.rules import (
    MAX_EXTENSIONS,
    PRESSES,
    SECONDS_PER_EXTENSION,
    clip_urls,
    extensions_of,
    press_offered,
    resolution_of,
)

TASK_TYPES = VIDEO_TASKS
FIELD_LIMIT = 1024
TYPICAL = {"video_upscale": "4 to 6 minutes"}  # the docs' durations; 3 to 5 minutes for the others


def as_video(job: Any) -> Any:
    """`job` as the shared screens should label it: made by the video model, whatever it was made from."""
    return replace(job, extra={**job.extra, "model": "video"})


def build_view(job: Any) -> discord.ui.View | None:
    """One row per clip: `Extend (Low motion)`, `Extend (High motion)`, `Upscale`, each only where offered."""
    if job.status != JobStatus.COMPLETED or not job.job_id:
        return None
    clips = len(clip_urls(job))
    view = discord.ui.View(timeout=None)
    for index in range(clips):
        for press in PRESSES.values():
            if press_offered(press, job, index):
                view.add_item(button(CustomId(press.action, job.job_id, index), press.label_for(index, clips),
                                     row=index))
    return view if view.children else None


def progress_line(job: Any) -> str:
    """Under the headline while the job runs: how long it has waited (Discord shows the time elapsed, live)."""
    typical = TYPICAL.get(job.task_type, "3 to 5 minutes")
    if job.status in WAITING:
        since = int(job.submitted_at or job.created_at)
        return f"-# Sent to Legnext <t:{since}:R>; videos usually take {typical} once they start."
    return f"-# Videos usually take {typical}; they appear here when they're done."


def _file_name(name: str) -> str:
    """An attached file's name, shown in a code span: only the characters the presenter's names are made of."""
    return re.sub(r"[^A-Za-z0-9._-]", "", name)[:80] or "clip"


def _link(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def clips_field(job: Any, attached: Sequence[str]) -> str:
    """The clips, numbered as the buttons are: the attached files by name, else links (within a field's 1024)."""
    urls = clip_urls(job)
    lines: list[str] = []
    used = 0
    for index, url in enumerate(urls):
        n = index + 1
        short = f"**{n}** · clip {n} (its link is too long to show)"
        line = f"**{n}** · `{_file_name(attached[index])}`" if index < len(attached) else (
            f"**{n}** · [clip {n}]({_link(url)})")
        room = FIELD_LIMIT - used - (len(short) + 1) * (len(urls) - n)  # what the clips after it need at least
        lines.append(line if len(line) < room else short)
        used += len(lines[-1]) + 1
    return "\n".join(lines) or "Legnext gave no clips."


def render_job(job: Any, *, attached: Sequence[str] = ()) -> Rendered:
    shown = as_video(job)
    if job.status == JobStatus.COMPLETED:
        clips = clip_urls(job)
        embed = discord.Embed(colour=COLOUR_DONE, description=safe_text(job.prompt, EMBED_DESC_LIMIT) or None)
        videos = [name for name in attached if name.endswith(".mp4")]
        what = "Upscaled clip" if job.task_type == "video_upscale" else (
            f"{len(clips)} clip{'s' if len(clips) != 1 else ''} · {resolution_of(job)}")
        embed.add_field(name=what, value=clips_field(job, videos), inline=False)
        extended = extensions_of(job)
        if extended:
            more = " (the most Midjourney allows)" if extended >= MAX_EXTENSIONS else ""
            embed.add_field(name="Extended", inline=False,
                            value=f"{extended} of {MAX_EXTENSIONS} times, about {extended * SECONDS_PER_EXTENSION} "
                                  f"seconds added{more}")
        embed.set_footer(text=footer(shown))
        return Rendered(headline(job), embed, build_view(job))
    if job.finished:
        return render_plain(shown, attached)
    content = f"{headline(job)}\n{progress_line(job)}"
    return Rendered(content[:CONTENT_LIMIT], None, None)


def renderer(job: Any, attached: Sequence[str]) -> Rendered:
    return render_job(job, attached=attached)


__all__ = ["TASK_TYPES", "build_view", "render_job", "renderer"]
