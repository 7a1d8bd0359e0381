"""/imagine's rules, with no Discord in them: the prompt a member's /settings defaults make, and every button
under a result (its label, where it sits, when it is offered, which API call it makes, and what a press starts).

This is bot-contract.md's button table as data. Image numbers are 0-based here and in the API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.errors import BadInput, NotAvailable
from bot.core.launcher import Confirm, Launch
from bot.core.prompt import check_prompt, check_video_prompt, follow_up_video_prompt, is_v8
from bot.legnext import models as m
from bot.legnext.client import build
from bot.storage.jobs import JobRecord
from bot.vocabulary import GRID_SIZE, GRID_TASKS, ZOOM_MAX, ZOOM_MIN
from cogs.imagine.regions import mask_for, parse_cells

ZOOM_RANGE = f"The zoom must be a number from {ZOOM_MIN} to {ZOOM_MAX}, like `1.5`."


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
        # the image's words and the flags the video model takes (`--raw`); the image-only ones are left out
        prompt = follow_up_video_prompt(c.prompt, motion)
        check_video_prompt(prompt)
        return build(m.VideoDiffusion, jobId=c.job_id, imageNo=c.index, prompt=prompt)

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
    key = f"{action.name}:{job_id}:{index}"
    if remix_prompt is not None:
        key += ":" + hashlib.sha1(remix_prompt.encode()).hexdigest()[:12]
    if extra:
        key += ":" + extra
    return key


# ------------------------------------------------------------------------------------------------ what a job starts

def action_for(name: str) -> Action:
    action = ACTIONS.get(name)
    if action is None:
        raise NotAvailable("That button is no longer supported.")
    return action


def check_offered(action: Action, source: JobRecord, index: int) -> None:
    """Is the button's action offered on that image of `source` (its `available_actions` and its model)?"""
    image_no = index_of(action, index)
    available = (source.output or {}).get("available_actions")
    if not 0 <= image_no < GRID_SIZE or not offered(action, image_no, available, str(source.extra.get("model", "7"))):
        raise NotAvailable("That action isn't offered for this image.")


def plain_key(action_name: str, job_id: str, index: int) -> str | None:
    """The double-press key of a press without a form (what an earlier press of the same button recorded)."""
    action = ACTIONS.get(action_name)
    return None if action is None else dedupe_key(action, job_id, index_of(action, index))


def press_launch(
    action_name: str,
    source: JobRecord,
    index: int,
    settings: dict[str, Any],
    *,
    remix_prompt: str | None = None,
    scale: float | None = None,
    cells: str | None = None,
    mask: dict[str, Any] | None = None,
    again_after_unknown: bool = False,
) -> Launch:
    """What pressing `action_name` on image `index` of the finished `source` starts. Raises `BadInput` on a value the
    member typed that can't be used, `PromptError` on a remix prompt the API would refuse. Vary (Region) takes the
    picked `cells`, or a `mask` already checked (`regions.check_areas`, the web editor's)."""
    action = action_for(action_name)
    check_offered(action, source, index)
    job_id = source.job_id or ""
    index = index_of(action, index)
    region_key = cells
    if remix_prompt is not None:
        remix_prompt = remix_prompt.strip()
        if not remix_prompt:
            raise BadInput("The prompt can't be empty.")
        remix_prompt = check_prompt(remix_prompt).render()  # `—ar 16:9` from a phone is sent as `--ar 16:9`
        if remix_prompt == source.prompt and action.modal is None:
            remix_prompt = None  # unchanged: a plain follow-up, same as with remix mode off
    if action.modal == "zoom" and (scale is None or not ZOOM_MIN <= scale <= ZOOM_MAX):
        raise BadInput(ZOOM_RANGE)
    if action.modal == "region" and mask is not None:
        region_key = "m" + hashlib.sha1(json.dumps(mask, sort_keys=True).encode()).hexdigest()[:12]
    elif action.modal == "region":
        try:
            mask = mask_for(parse_cells(cells or ""), source.prompt)
        except ValueError:
            raise BadInput("Pick at least one region of the image to vary.") from None
    else:
        mask = None
    ctx = Ctx(
        job_id=job_id, index=index, prompt=source.prompt,
        variation_high=settings.get("variation", "high") != "low", remix_prompt=remix_prompt, scale=scale,
        mask=mask,
    )
    extra = {
        "model": source.extra.get("model", "7"),
        "source_task": source.task_type,
        "describes": action.describes.format(n=index + 1),
        # buttons under an upscaled image are offered according to the grid's actions
        "parent_actions": (source.output or {}).get("available_actions") if source.task_type in GRID_TASKS else None,
    }
    key = dedupe_key(action, job_id, index, remix_prompt, region_key or (f"{scale:g}" if scale else None))
    plain = key == dedupe_key(action, job_id, index)
    return Launch(
        request=action.build(ctx), action=action_name, prompt=remix_prompt or source.prompt, extra=extra,
        parent_job_id=job_id, image_no=index, dedupe_key=key, again_after_unknown=again_after_unknown,
        # another zoom scale, like another region or remix, is asked again by its own form
        confirm_again=Confirm(action_name, job_id, index) if plain and action.modal is None else None,
    )
