"""Every button under a result: its label, where it sits, when it is offered and which API call it makes.

This is bot-contract.md's button table as data. Image numbers are 0-based here and in the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.legnext import models as m
from bot.legnext.client import build
from bot.prompt import is_v8, parse_prompt

GRID_TASKS = frozenset({"diffusion", "variation", "reroll", "blend", "pan", "outpaint", "inpaint", "remix", "edit"})
UPSCALE_TASKS = frozenset({"upscale"})
VIDEO_TASKS = frozenset({"video_diffusion", "extend_video", "video_upscale"})

# Legnext's follow-up window (docs: "Operation Validity ... 3 days").
FOLLOW_UP_WINDOW_S = 3 * 24 * 3600


@dataclass(frozen=True)
class Ctx:
    """What a button's request is built from."""

    job_id: str  # the Legnext job the call is made on
    index: int  # 0-based image / video number
    prompt: str  # the source job's prompt
    variation_high: bool = True  # member's /settings variation mode
    remix_prompt: str | None = None
    scale: float | None = None  # custom zoom
    mask: dict[str, Any] | None = None  # vary region


@dataclass(frozen=True)
class Action:
    name: str
    label: str | None  # None: emoji-only button
    emoji: str | None
    row: int
    build: Callable[[Ctx], m.SubmitRequest]
    api_action: str | None  # key in available_actions that offers it (None: always offered)
    remixable: bool = False  # with remix mode on, a modal with the prompt comes first
    needs_pre_v8: bool = False  # V8 / V8.1 have no pan / zoom / region / upscale
    modal: str | None = None  # "zoom" or "region": asks the member first, whatever the remix mode
    describes: str = ""  # the words after the prompt in the result's message ("Image #2", "Zoom Out", ...)


def _variation(kind: int | None) -> Callable[[Ctx], m.SubmitRequest]:
    def make(c: Ctx) -> m.SubmitRequest:
        t = kind if kind is not None else (1 if c.variation_high else 0)
        return build(m.Variation, jobId=c.job_id, imageNo=c.index, type=t, remixPrompt=c.remix_prompt)

    return make


def _upscale(kind: int) -> Callable[[Ctx], m.SubmitRequest]:
    return lambda c: build(m.Upscale, jobId=c.job_id, imageNo=c.index, type=kind)


def _outpaint(scale: float | None) -> Callable[[Ctx], m.SubmitRequest]:
    return lambda c: build(m.Outpaint, jobId=c.job_id, imageNo=c.index, scale=scale or c.scale,
                           remixPrompt=c.remix_prompt)


def _pan(direction: int) -> Callable[[Ctx], m.SubmitRequest]:
    return lambda c: build(m.Pan, jobId=c.job_id, imageNo=c.index, direction=direction, scale=1.5,
                           remixPrompt=c.remix_prompt)


def _animate(motion: str) -> Callable[[Ctx], m.SubmitRequest]:
    def make(c: Ctx) -> m.SubmitRequest:
        text = parse_prompt(c.prompt).text or "animate"
        return build(m.VideoDiffusion, jobId=c.job_id, imageNo=c.index, prompt=f"{text} --motion {motion}")

    return make


def _inpaint(c: Ctx) -> m.SubmitRequest:
    return build(m.Inpaint, jobId=c.job_id, imageNo=c.index, mask=c.mask, remixPrompt=c.remix_prompt)


def _reroll(c: Ctx) -> m.SubmitRequest:
    return build(m.Reroll, jobId=c.job_id, remixPrompt=c.remix_prompt)


_GRID: list[Action] = [
    *[Action(f"u{n}", f"U{n}", None, 0, _upscale(0), "upscale", describes="Image #{n}") for n in range(1, 5)],
    Action("reroll", None, "🔄", 0, _reroll, "reroll", remixable=True),
    *[Action(f"v{n}", f"V{n}", None, 1, _variation(None), "variation", remixable=True, describes="Variations")
      for n in range(1, 5)],
]

_UPSCALED: list[Action] = [
    Action("upscale_subtle", "Upscale (Subtle)", None, 0, _upscale(0), "upscale", needs_pre_v8=True,
           describes="Upscaled (Subtle)"),
    Action("upscale_creative", "Upscale (Creative)", None, 0, _upscale(1), "upscale", needs_pre_v8=True,
           describes="Upscaled (Creative)"),
    Action("vary_subtle", "Vary (Subtle)", None, 1, _variation(0), "variation", remixable=True,
           describes="Variations (Subtle)"),
    Action("vary_strong", "Vary (Strong)", None, 1, _variation(1), "variation", remixable=True,
           describes="Variations (Strong)"),
    Action("vary_region", "Vary (Region)", None, 1, _inpaint, "inpaint", needs_pre_v8=True, modal="region",
           describes="Variations (Region)"),
    Action("zoom_2", "Zoom Out 2x", None, 2, _outpaint(2.0), "outpaint", needs_pre_v8=True, describes="Zoom Out"),
    Action("zoom_15", "Zoom Out 1.5x", None, 2, _outpaint(1.5), "outpaint", needs_pre_v8=True,
           describes="Zoom Out"),
    Action("zoom_custom", "Custom Zoom", None, 2, _outpaint(None), "outpaint", needs_pre_v8=True, modal="zoom",
           describes="Zoom Out"),
    Action("pan_left", None, "⬅️", 3, _pan(3), "pan", remixable=True, needs_pre_v8=True, describes="Pan Left"),
    Action("pan_right", None, "➡️", 3, _pan(1), "pan", remixable=True, needs_pre_v8=True, describes="Pan Right"),
    Action("pan_up", None, "⬆️", 3, _pan(2), "pan", remixable=True, needs_pre_v8=True, describes="Pan Up"),
    Action("pan_down", None, "⬇️", 3, _pan(0), "pan", remixable=True, needs_pre_v8=True, describes="Pan Down"),
    Action("animate_low", "Animate (Low motion)", None, 4, _animate("low"), None, describes="Animate (Low motion)"),
    Action("animate_high", "Animate (High motion)", None, 4, _animate("high"), None,
           describes="Animate (High motion)"),
]

ACTIONS: dict[str, Action] = {a.name: a for a in (*_GRID, *_UPSCALED)}


def is_upscaled(name: str) -> bool:
    """Is `name` a button under an upscaled image (rather than under a grid)?"""
    return any(a.name == name for a in _UPSCALED)


def grid_actions() -> list[Action]:
    return list(_GRID)


def upscaled_actions() -> list[Action]:
    return list(_UPSCALED)


def offered(action: Action, index: int, available: Mapping[str, Any] | None, model: str) -> bool:
    """Is `action` on image `index` offered, given the grid's `available_actions` and the model?"""
    if action.needs_pre_v8 and is_v8(model):
        return False
    if action.api_action is None or available is None:
        return True
    value = available.get(action.api_action)
    if value is True:
        return True
    if isinstance(value, list):
        return index in value
    return False


def index_of(action: Action, index: int) -> int:
    """Grid buttons carry their own image number (U3 -> 2); reroll is always 0."""
    if action.name in ("reroll",):
        return 0
    if action.name[0] in "uv" and action.name[1:].isdigit():
        return int(action.name[1:]) - 1
    return index


def dedupe_key(action: Action, job_id: str, index: int, remix_prompt: str | None = None,
               extra: str | None = None) -> str:
    """Same button, same image -> same key. A remix with other words, or another region, is another request."""
    import hashlib

    key = f"{action.name}:{job_id}:{index}"
    if remix_prompt is not None:
        key += ":" + hashlib.sha1(remix_prompt.encode()).hexdigest()[:12]
    if extra:
        key += ":" + extra
    return key
