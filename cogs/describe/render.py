"""How /describe's jobs look: the image as the thumbnail, the four prompts numbered, and the buttons once it
completed. Pure: job records in, content / embed / buttons out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.ui.prompt_form import prompts_of, render_prompts
from bot.ui.screens import Rendered
from bot.vocabulary import JobStatus
from cogs.describe.buttons import PROMPTS, build_view

TASK_TYPES = frozenset({"describe"})


def image_url(job: Any) -> str | None:
    url = (job.request or {}).get("imgUrl")
    return str(url) if url else None


def render_job(job: Any, *, attached: Sequence[str] = ()) -> Rendered:
    count = len(prompts_of(job)) if job.status == JobStatus.COMPLETED and job.job_id else 0
    view = build_view(job.job_id, count) if count else None
    return render_prompts(job, attached, view, limit=PROMPTS, thumbnail=image_url(job))


def renderer(job: Any, attached: Sequence[str]) -> Rendered:
    return render_job(job, attached=attached)


__all__ = ["TASK_TYPES", "render_job", "renderer"]
