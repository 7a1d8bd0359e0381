"""How /imagine's jobs look: the generic screen plus the buttons each finished grid or upscaled image offers.

Pure: job records in, content / embed / buttons out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.ui.custom_ids import CustomId
from bot.ui.screens import Rendered, render_plain
from bot.vocabulary import GRID_TASKS, UPSCALE_TASKS, JobStatus
from cogs.imagine import actions as A
from cogs.imagine.buttons import ImagineButton

TASK_TYPES = GRID_TASKS | UPSCALE_TASKS

def build_view(job: Any) -> discord.ui.View | None:
    """The buttons a finished job offers (and only those)."""
    if job.status != JobStatus.COMPLETED or not job.job_id:
        return None
    model = str(job.extra.get("model", "7"))
    items: list[ImagineButton] = []
    if job.task_type in GRID_TASKS:
        available = (job.output or {}).get("available_actions")
        for action in A.grid_actions():
            index = A.index_of(action, 0)
            if A.offered(action, index, available, model):
                items.append(ImagineButton.make(action, CustomId(action.name, job.job_id, index)))
    elif job.task_type in UPSCALE_TASKS and job.parent_job_id is not None and job.image_no is not None:
        available = job.extra.get("parent_actions")
        for action in A.upscaled_actions():
            if A.offered(action, job.image_no, available, model):
                items.append(ImagineButton.make(action, CustomId(action.name, job.parent_job_id, job.image_no)))
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def render_job(job: Any, *, attached: Sequence[str] = ()) -> Rendered:
    """Content, embed and view for `job`. `attached` names the files uploaded with the message, if any."""
    return render_plain(job, attached, build_view(job))


def renderer(job: Any, attached: Sequence[str]) -> Rendered:
    """`render_job` in the shape the presenter's registry takes."""
    return render_job(job, attached=attached)


__all__ = ["TASK_TYPES", "Rendered", "build_view", "render_job", "renderer"]
