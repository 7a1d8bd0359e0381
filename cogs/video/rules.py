"""/video's rules, with no Discord in them: the request a /video makes from its options (checked before any call),
the buttons under a video's clips (label, API call, when they are offered) and what a press starts.

Clip numbers are 0-based here and in the API (`videoNo`), 1-based on screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from bot.core.costs import points_for
from bot.core.errors import BadInput, NotAvailable
from bot.core.launcher import Confirm, Launch
from bot.core.prompt import (
    BATCH_SIZES,
    Flag,
    PromptError,
    check_video_prompt,
    follow_up_video_prompt,
    leading_image_url,
    unwrap_link,
)
from bot.core.sources import check_image_link
from bot.legnext import models as m
from bot.legnext.client import build

MAX_EXTENSIONS = 4  # docs, Extend Video: "a maximum of 4 extensions"; each adds about 4 s
SECONDS_PER_EXTENSION = 4
MAX_CLIPS = 4
EXTENDABLE = frozenset({"video_diffusion", "extend_video"})  # the tasks whose clips have buttons
RESOLUTIONS: dict[str, int] = {"480p": 0, "720p": 1}  # /video's `resolution` -> the API's videoType
DEFAULT_BATCH = 4  # the API's default batch: four clips, as Midjourney makes them
PROMPT_MAX = m.PROMPT_MAX  # what the API takes, start and end links included

Motion = Literal["low", "high"]
Resolution = Literal["480p", "720p"]


# ------------------------------------------------------------------------------------------------ /video


@dataclass(frozen=True)
class VideoAsk:
    """What a member gave /video, attachments already checked (`bot.core.sources.check_image`)."""

    prompt: str
    image_url: str | None = None  # the start frame uploaded as `image` (its full signed URL)
    image_name: str | None = None
    motion: Motion | None = None
    resolution: Resolution | None = None
    loop: bool | None = None
    end_url: str | None = None  # the end frame uploaded as `end_image`
    end_name: str | None = None
    batch: int | None = None


@dataclass(frozen=True)
class VideoPlan:
    """What /video sends, shows and costs."""

    prompt: str  # sent: the start frame's link first, then the text and the flags
    shown: str  # shown with the job: uploads by their file name instead of their long signed links
    video_type: int
    resolution: Resolution
    batch: int
    points: int  # what the job reserves (bot.core.costs)

    def request(self) -> m.VideoDiffusion:
        return build(m.VideoDiffusion, prompt=self.prompt, videoType=self.video_type)


def _conflict(option: str, given: str, flag: Flag) -> BadInput:
    typed = flag.render()
    return BadInput(f"`{option}` says {given} but the prompt has `{typed[:60]}`; please give it once.")


def video_plan(ask: VideoAsk) -> VideoPlan:
    """The video-diffusion a /video makes. Raises `PromptError` or `BadInput` (nothing is spent): an image-only or
    out-of-range flag, no start frame (or two), an option that contradicts the prompt, links that can't be used,
    a prompt too long for the API once the links are in."""
    parsed = check_video_prompt(ask.prompt.strip(), max_len=PROMPT_MAX)
    typed_start, text = leading_image_url(parsed.text)
    if typed_start is not None and leading_image_url(text)[0] is not None:
        raise BadInput("A video has one start frame: please put only one image link at the start of the prompt.")
    if typed_start is not None and ask.image_url is not None:
        raise BadInput("Give the start frame either as `image` or as a link at the start of the prompt, not both.")
    if typed_start is not None:
        typed_start = check_image_link(typed_start, option="the link at the start of the prompt")
    start = ask.image_url or typed_start
    if start is None:
        raise BadInput("A video needs a start frame: attach an `image`, or start the prompt with a link to one.")

    others: list[str] = []
    motion: str | None = ask.motion
    loop = bool(ask.loop)
    end_url, end_shown = ask.end_url, ask.end_name
    batch = ask.batch
    for flag in parsed.flags:
        if flag.name == "motion":
            value = (flag.value or "").lower()
            if motion is not None and motion != value:
                raise _conflict("motion", motion, flag)
            motion = value
        elif flag.name == "loop":
            if ask.loop is False:
                raise _conflict("loop", "False", flag)
            loop = True
        elif flag.name == "end":
            if end_url is not None:
                raise BadInput("Give the end frame either as `end_image` or as `--end` in the prompt, not both.")
            end_url = end_shown = check_image_link(unwrap_link(flag.value or ""), option="--end")
        elif flag.name == "bs":
            clips = int(flag.value or DEFAULT_BATCH)
            if batch is not None and batch != clips:
                raise _conflict("batch", str(batch), flag)
            batch = clips
        elif flag.name == "style":  # `--style raw` is `--raw`
            others.append("--raw")
        else:
            others.append(flag.render())
    batch = batch if batch is not None else DEFAULT_BATCH
    if str(batch) not in BATCH_SIZES:
        raise BadInput("`batch` must be 1, 2 or 4 clips.")
    own = [f"--motion {motion}" if motion else "", "--loop" if loop else ""]
    flags = [*others, *own, f"--bs {batch}"]
    prompt = " ".join(p for p in (start, text, *flags, f"--end {end_url}" if end_url else "") if p)
    if len(prompt) > PROMPT_MAX:
        raise PromptError(f"Your prompt is too long once the image links are added ({len(prompt):,} characters; "
                          f"Legnext takes {PROMPT_MAX:,}). Please shorten it.")
    shown_start = ask.image_name if ask.image_url is not None else start
    shown = " ".join(p for p in (shown_start or "", text, *flags, f"--end {end_shown}" if end_url else "") if p)
    resolution: Resolution = ask.resolution or "480p"
    video_type = RESOLUTIONS[resolution]
    points = points_for("video_diffusion", {"prompt": prompt, "videoType": video_type})
    return VideoPlan(prompt=prompt, shown=shown, video_type=video_type, resolution=resolution, batch=batch,
                     points=points)


def price_text(plan: VideoPlan) -> str:
    clips = f"{plan.batch} clip{'s' if plan.batch != 1 else ''}"
    return (f"Price: **{plan.points:,} points** ({plan.resolution}, {clips}; 720p costs about three times 480p, "
            "and more clips cost more).")


# ------------------------------------------------------------------------------------------------ the buttons


@dataclass(frozen=True)
class Press:
    """One button under each clip of a finished video."""

    action: str  # the custom_id action
    label: str  # Midjourney's label; with several clips the clip number goes after its first word
    api_action: str  # the key in `available_actions` that offers it
    motion: Motion | None  # Extend's motion; None: Upscale
    describes: str  # the words after the prompt in the result's message
    code: str  # short name in the "run it again" confirmation's custom_id

    @property
    def extends(self) -> bool:
        return self.motion is not None

    def label_for(self, index: int, clips: int) -> str:
        """`Extend (Low motion)`, or `Extend 2 (Low motion)` when there are several clips."""
        if clips <= 1:
            return self.label
        first, _, rest = self.label.partition(" ")
        return f"{first} {index + 1} {rest}".strip()


PRESSES: dict[str, Press] = {p.action: p for p in (
    Press("video_extend_low", "Extend (Low motion)", "extend", "low", "Extended (Low motion)", "xl"),
    Press("video_extend_high", "Extend (High motion)", "extend", "high", "Extended (High motion)", "xh"),
    Press("video_upscale", "Upscale", "upscale", None, "Upscaled video", "up"),
)}
BY_CODE: dict[str, Press] = {p.code: p for p in PRESSES.values()}


def clip_urls(job: Any) -> list[str]:
    return [str(u) for u in ((job.output or {}).get("video_urls") or [])][:MAX_CLIPS]


def offered(available: Mapping[str, Any] | None, api_action: str, index: int) -> bool:
    """Does the video's `available_actions` offer `api_action` on clip `index`? Nothing is offered without it."""
    if not isinstance(available, Mapping):
        return False
    value = available.get(api_action)
    return value is True or (isinstance(value, list) and index in value)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def extensions_of(job: Any) -> int:
    """How many times the clips of `job` were extended (counted along its lineage when it was started)."""
    return _count(job.extra.get("extensions"))


def resolution_of(job: Any) -> str:
    given = job.extra.get("resolution")
    if given in RESOLUTIONS:
        return str(given)
    return "720p" if (job.request or {}).get("videoType") == 1 else "480p"


def press_offered(press: Press, job: Any, index: int) -> bool:
    """Is the button offered on clip `index` of the finished `job` (its `available_actions`, the extension limit)?"""
    if job.task_type not in EXTENDABLE or not 0 <= index < len(clip_urls(job)):
        return False
    if press.extends and extensions_of(job) >= MAX_EXTENSIONS:
        return False
    return offered((job.output or {}).get("available_actions"), press.api_action, index)


def dedupe_key(action: str, job_id: str, index: int) -> str:
    return f"{action}:{job_id}:{index}"


def press_launch(action: str, source: Any, index: int, extensions: int, *, upload_limit: int | None = None,
                 again_after_unknown: bool = False) -> Launch:
    """What pressing `action` on clip `index` of the finished video `source` starts. `extensions`: how many times
    the clip's lineage was extended already (counted along `parent_job_id`). Raises `NotAvailable` for a press the
    video doesn't offer (a forged or stale button)."""
    press = PRESSES.get(action)
    if press is None:
        raise NotAvailable("That button is no longer supported.")
    if source.task_type not in EXTENDABLE:
        raise NotAvailable("That button only works on the clips of a video.")
    if press.extends and extensions >= MAX_EXTENSIONS:
        raise NotAvailable(f"This video was already extended {MAX_EXTENSIONS} times, the most Midjourney allows.")
    source = replace(source, extra={**source.extra, "extensions": extensions})
    if not press_offered(press, source, index):
        raise NotAvailable("That isn't offered for this clip.")
    job_id = str(source.job_id)
    if press.motion is not None:
        text = follow_up_video_prompt(str((source.request or {}).get("prompt") or source.prompt or ""), press.motion)
        check_video_prompt(text, max_len=PROMPT_MAX)
        request: m.SubmitRequest = build(m.ExtendVideo, jobId=job_id, videoNo=index, prompt=text)
    else:
        request = build(m.VideoUpscale, jobId=job_id, videoNo=index)
    several = len(clip_urls(source)) > 1
    extra: dict[str, Any] = {
        "model": "video",
        "describes": f"{press.describes}{f' (clip {index + 1})' if several else ''}",
        "extensions": extensions + 1 if press.extends else extensions,
        "resolution": resolution_of(source),
    }
    if upload_limit:
        extra["upload_limit"] = upload_limit
    return Launch(
        request=request, action=action, prompt=source.prompt, extra=extra, parent_job_id=job_id, image_no=index,
        dedupe_key=dedupe_key(action, job_id, index), again_after_unknown=again_after_unknown,
        confirm_again=Confirm(action, job_id, index),
    )
