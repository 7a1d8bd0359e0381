"""What a job reserves before the API answers: the cost table of legnext-notes.md, read from the request the bot is
about to send. Pure: no I/O. Reservations against budgets, /balance's "what that buys" and /video's price all use it.
"""

from __future__ import annotations

from typing import Any

from bot.core.prompt import parse_prompt
from bot.vocabulary import task

# legnext-notes.md, "Cost": fast mode; turbo doubles image tasks, draft halves an imagine.
# A video job of the API's default batch of four clips (docs: `--bs` "Default: 4", and the documented answer to a
# video-diffusion without `--bs` freezes 480); `--bs 1` / `--bs 2` cost a quarter / a half of it.
VIDEO_480P, VIDEO_720P = 480, 1536
VIDEO_DEFAULT_BATCH = 4
VIDEO_UPSCALE = 480
UPSCALE_CREATIVE = 160
TURBO_FACTOR = 2
_TURBO_TASKS = frozenset({"diffusion", "reroll", "blend", "variation", "upscale", "pan", "outpaint", "inpaint",
                          "remix", "edit", "enhance"})


def video_points(video_type: int | None, batch: int = VIDEO_DEFAULT_BATCH) -> int:
    """A video-diffusion: 480p (videoType 0, the default) or 720p (1), in proportion to its batch of clips."""
    base = VIDEO_720P if video_type == 1 else VIDEO_480P
    return base * max(1, batch) // VIDEO_DEFAULT_BATCH


def batch_of(prompt: str) -> int:
    """The clips a video prompt asks for (`--bs`, read as the API reads flags: `x--bs 1` is words, not a flag;
    without one, the API's default)."""
    flag = parse_prompt(prompt or "").get("bs")
    value = (flag.value or "").strip() if flag is not None else ""
    return int(value) if value in ("1", "2", "4") else VIDEO_DEFAULT_BATCH


def points_for(task_type: str, body: dict[str, Any], prompt: str = "") -> int:
    """Points the API freezes for this submit. `body` is the request body (camelCase); `prompt` the prompt shown with
    the job (a follow-up runs in the mode of the job it is made on, whose prompt carries `--turbo`)."""
    if task_type == "video_diffusion":
        text = str(body.get("prompt") or prompt or "")
        return video_points(body.get("videoType"), batch_of(text))
    if task_type == "video_upscale":
        return VIDEO_UPSCALE
    if task_type == "extend_video":
        return VIDEO_480P
    text = str(body.get("text") or body.get("remixPrompt") or prompt or "")
    parsed = parse_prompt(text)
    base = task(task_type).cost
    if task_type == "upscale" and body.get("type") in (1, 3):
        base = UPSCALE_CREATIVE
    if task_type == "diffusion" and parsed.has("draft"):
        base //= 2
    if task_type in _TURBO_TASKS and parsed.has("turbo"):
        base *= TURBO_FACTOR
    return base
