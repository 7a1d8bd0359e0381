"""How /shorten's jobs look: the five shortened prompts numbered, the buttons once it completed, and the details
(the "important tokens" analysis) `Show Details` answers with. Pure: job records in, text / screens out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.core.text import strip_invisible
from bot.ui.prompt_form import prompts_of, render_prompts
from bot.ui.screens import CONTENT_LIMIT, Rendered, safe_text
from bot.vocabulary import JobStatus
from cogs.shorten.buttons import PROMPTS, build_view

TASK_TYPES = frozenset({"shorten"})
MARKED = re.compile(r"(\*\*[^*\n]+?\*\*|~~[^~\n]+?~~)")  # the API's bold (important) and struck (ignored) tokens


def render_job(job: Any, *, attached: Sequence[str] = ()) -> Rendered:
    count = len(prompts_of(job)) if job.status == JobStatus.COMPLETED and job.job_id else 0
    view = build_view(job.job_id, count) if count else None
    return render_prompts(job, attached, view, limit=PROMPTS)


def renderer(job: Any, attached: Sequence[str]) -> Rendered:
    return render_job(job, attached=attached)


def _safe_line(line: str) -> str:
    """One line of the API's markdown: its `**bold**` and `~~struck~~` tokens kept, everything else escaped (a
    prompt's own markdown, mentions and invisible characters never get through)."""
    out: list[str] = []
    for part in MARKED.split(strip_invisible(line)):
        if not part:
            continue
        if MARKED.fullmatch(part):
            mark = part[:2]
            inner = safe_text(part[2:-2], CONTENT_LIMIT)
            out.append(f"{mark}{inner}{mark}" if inner.strip() else "")
        else:
            # keep the spaces around tokens (safe_text trims them)
            lead = " " if part[:1].isspace() else ""
            trail = " " if part[-1:].isspace() else ""
            text = safe_text(part, CONTENT_LIMIT)
            out.append(f"{lead}{text}{trail}" if text else (" " if part.isspace() else ""))
    return "".join(out).strip()


def details_text(job: Any) -> str:
    """What `Show Details` answers: the analysis (`finalPrompt`, else `description`), within Discord's 2000."""
    out = job.output or {}
    analysis = str(out.get("finalPrompt") or "").strip()
    description = str(out.get("description") or "").strip()
    lines = [_safe_line(line) for line in analysis.splitlines()] if analysis else []
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if description and (not text or description not in analysis):
        summary = safe_text(description, 500)
        text = f"{summary}\n\n{text}" if text else summary
    if not text:
        return "Legnext gave no details for this prompt."
    text = discord.utils.escape_mentions(text)
    return text if len(text) <= CONTENT_LIMIT else text[: CONTENT_LIMIT - 1] + "…"


__all__ = ["TASK_TYPES", "details_text", "render_job", "renderer"]
