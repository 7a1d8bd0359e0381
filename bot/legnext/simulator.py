"""A local, faithful simulator of the Legnext AI REST API (Midjourney jobs).

It lets an operator try the bot without spending credits and is the backbone of the tests.
Run it with ``python -m bot.legnext.simulator --port 8787`` and point the bot's
``legnext.base_url`` at ``http://127.0.0.1:8787/api``.

What it imitates (see ``/work/shared/reference/legnext-notes.md``):

* every submit endpoint with the documented validation (camelCase keys, ranges, enums);
* the job object, its lifecycle ``pending -> processing -> completed/failed`` computed lazily
  from a scalable clock, at most six jobs processing at once;
* points frozen at submit, consumed on completion, refunded on failure;
* model rules (V8/V8.1 have no upscale/pan/inpaint/outpaint, V8.1 rejects some parameters,
  enhance only for ``--v 7 --draft`` grids) and the three-day follow-up window;
* result files it serves itself (real PNGs, a tiny MP4), with signed-looking URLs;
* webhook callbacks ``{"timestamp": ms, "data": job}``.

Knobs for tests (errors, hangs, failures, stuck jobs, refused words, ageing) exist both as
Python methods on :class:`Simulator` and over HTTP under ``/_sim/`` (no API key needed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import json
import logging
import math
import random
import re
import signal
import struct
import sys
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]

DEFAULT_DURATIONS: dict[str, float] = {
    "diffusion": 35.0,
    "upscale": 60.0,
    "variation": 40.0,
    "reroll": 35.0,
    "blend": 40.0,
    "describe": 8.0,
    "shorten": 6.0,
    "pan": 60.0,
    "outpaint": 60.0,
    "inpaint": 60.0,
    "remix": 45.0,
    "edit": 60.0,
    "upload_paint": 60.0,
    "retexture": 60.0,
    "remove_background": 20.0,
    "enhance": 40.0,
    "video_diffusion": 155.0,
    "extend_video": 155.0,
    "video_upscale": 240.0,
    "enhance_upscale": 60.0,
}

#: endpoint name (after ``/api/v1/``) -> task_type
ENDPOINTS: dict[str, str] = {
    "diffusion": "diffusion",
    "variation": "variation",
    "upscale": "upscale",
    "reroll": "reroll",
    "blend": "blend",
    "describe": "describe",
    "shorten": "shorten",
    "pan": "pan",
    "outpaint": "outpaint",
    "inpaint": "inpaint",
    "remix": "remix",
    "edit": "edit",
    "upload-paint": "upload_paint",
    "retexture": "retexture",
    "remove-background": "remove_background",
    "enhance": "enhance",
    "video-diffusion": "video_diffusion",
    "extend-video": "extend_video",
    "video-upscale": "video_upscale",
    "enhance-upscale": "enhance_upscale",
}

GRID_TASKS = frozenset(
    {
        "diffusion",
        "variation",
        "reroll",
        "blend",
        "pan",
        "outpaint",
        "inpaint",
        "remix",
        "edit",
        "upload_paint",
        "retexture",
        "enhance",
    }
)
SINGLE_IMAGE_TASKS = frozenset({"upscale", "remove_background", "enhance_upscale"})
VIDEO_TASKS = frozenset({"video_diffusion", "extend_video", "video_upscale"})
TEXT_TASKS = frozenset({"describe", "shorten"})

MAX_CONCURRENT = 6
FOLLOW_UP_WINDOW = timedelta(days=3)
STORAGE_WINDOW = timedelta(days=30)
MAX_TEXT = 8192
MAX_URL = 1024
MAX_VIDEO_EXTENSIONS = 4
ZERO_TIME = "0001-01-01T00:00:00Z"

ENHANCE_UPSCALE_COST = {"HD": 120, "FHD": 120, "2K": 120, "4K": 160, "6K": 200, "8K": 300, "12K": 540}
ENHANCE_UPSCALE_ENUMS: dict[str, tuple[str, ...]] = {
    "content_type": ("standard", "photo", "illustration", "text", "low_res"),
    "aspect_ratio": ("keep", "1:1", "16:9", "9:16", "4:5", "5:4", "3:2", "2:3", "4:3", "3:4"),
    "crop_mode": ("letterbox", "crop", "stretch"),
    "output_format": ("jpeg", "jpg", "png", "tiff", "tif"),
    "face_enhancement_level": ("off", "none", "subtle", "moderate", "strong"),
}

DEFAULT_ERROR_MESSAGES: dict[int, str] = {
    400: "invalid request parameters",
    401: "Failed to verify api key",
    402: "insufficient balance",
    403: "request refused: sensitive content",
    404: "job not found",
    413: "request entity too large",
    422: "invalid parameter values",
    429: "too many requests: concurrent job limit reached",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}

FAKE_MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free"

# --------------------------------------------------------------------------------------------
# small helpers


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _flat_error(status: int, message: str, raw_message: str = "") -> JSONDict:
    return {"code": status, "message": message, "raw_message": raw_message, "detail": None}


def _envelope_error(status: int, message: str, raw_message: str = "") -> JSONDict:
    return {
        "job_id": "",
        "model": "",
        "task_type": "",
        "status": "failed",
        "config": {"service_mode": "", "webhook_config": {"endpoint": "", "secret": ""}},
        "input": None,
        "output": None,
        "meta": None,
        "detail": None,
        "logs": [],
        "error": {"code": status, "message": message, "raw_message": raw_message, "detail": None},
    }


class ApiError(Exception):
    """An HTTP error answer of the simulated API (flat body)."""

    def __init__(self, status: int, message: str, raw_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.raw_message = raw_message

    def response(self) -> web.Response:
        return web.json_response(_flat_error(self.status, self.message, self.raw_message), status=self.status)


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


# --------------------------------------------------------------------------------------------
# PNG / MP4 generation (no Pillow)

RGB = tuple[int, int, int]


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


@functools.lru_cache(maxsize=512)
def make_png(width: int, height: int, tiles: tuple[RGB, ...], columns: int = 1) -> bytes:
    """A real RGB PNG of ``width`` x ``height`` filled with ``tiles`` laid out on a grid.

    One tile fills the whole picture; four tiles with ``columns=2`` make a 2x2 grid.
    """
    rows_of_tiles = max(1, math.ceil(len(tiles) / columns))
    tile_w = width // columns
    tile_h = height // rows_of_tiles
    raw = bytearray()
    for y in range(height):
        tile_row = min(y // max(tile_h, 1), rows_of_tiles - 1)
        line = bytearray(b"\x00")
        for col in range(columns):
            idx = tile_row * columns + col
            colour = tiles[idx] if idx < len(tiles) else (0, 0, 0)
            w = tile_w if col < columns - 1 else width - tile_w * (columns - 1)
            line += bytes(colour) * w
        raw += line
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + _png_chunk(b"IEND", b"")
    )


def _hsv_to_rgb(hue: float, sat: float, val: float) -> RGB:
    hue = hue % 360.0
    c = val * sat
    x = c * (1 - abs((hue / 60.0) % 2 - 1))
    m = val - c
    sector = int(hue // 60)
    r, g, b = [(c, x, 0.0), (x, c, 0.0), (0.0, c, x), (0.0, x, c), (x, 0.0, c), (c, 0.0, x)][sector]
    return (round((r + m) * 255), round((g + m) * 255), round((b + m) * 255))


def tile_colour(job_id: str, index: int) -> RGB:
    """The colour of image ``index`` of job ``job_id``: distinct for the four images of a job."""
    base = int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % 360
    return _hsv_to_rgb(base + 90.0 * index, 0.75, 0.9)


def make_mp4(job_id: str, index: int) -> bytes:
    return FAKE_MP4_HEADER + f"simulated video {job_id} #{index}".encode()


# --------------------------------------------------------------------------------------------
# prompt parsing

_DASHES = re.compile("[\u2014\u2013]")
_VERSION_RE = re.compile(r"(?:^|\s)--(?:v|version)\s+([0-9]+(?:\.[0-9]+)?)(?=\s|$)")
_NIJI_RE = re.compile(r"(?:^|\s)--niji(?:\s+([0-9]+(?:\.[0-9]+)?))?(?=\s|$)")
_PERMUTATION_RE = re.compile(r"\{[^{}]*,[^{}]*\}")
_SUPPORTED_VERSIONS = {"6": "6", "6.0": "6", "6.1": "6.1", "7": "7", "7.0": "7", "8": "8", "8.0": "8", "8.1": "8.1"}


def _flag_re(*names: str) -> re.Pattern[str]:
    return re.compile(r"(?:^|\s)--(?:{})(?=\s|$)".format("|".join(re.escape(n) for n in names)))


def _value_re(*names: str) -> re.Pattern[str]:
    return re.compile(r"(?:^|\s)--(?:{})\s+(\S+)".format("|".join(re.escape(n) for n in names)))


_UNSUPPORTED_IMAGE_FLAGS: list[tuple[re.Pattern[str], str]] = [
    (_flag_re("repeat", "r"), "--repeat is not supported"),
    (_flag_re("personalize"), "--personalize is not supported"),
    (_flag_re("stealth"), "--stealth is not supported"),
    (_flag_re("public"), "--public is not supported"),
    (_flag_re("relax"), "--relax (relax mode) is not supported"),
    (_flag_re("video"), "--video is not supported for images, use /v1/video-diffusion"),
    (_flag_re("bs", "batchsize"), "--bs is only supported by video endpoints"),
]
_V81_REMOVED: list[tuple[re.Pattern[str], str]] = [
    (_flag_re("q", "quality"), "--q"),
    (_flag_re("cref"), "--cref"),
    (_flag_re("cw"), "--cw"),
    (_flag_re("oref"), "--oref"),
    (_flag_re("ow"), "--ow"),
    (_flag_re("no"), "--no"),
    (_flag_re("turbo"), "--turbo"),
]
_V8_REMOVED: list[tuple[re.Pattern[str], str]] = [
    (_flag_re("turbo"), "--turbo"),
    (_flag_re("cref"), "--cref"),
    (_flag_re("cw"), "--cw"),
]
_RANGES: list[tuple[re.Pattern[str], str, float, float]] = [
    (_value_re("chaos", "c"), "--chaos", 0, 100),
    (_value_re("stylize", "s"), "--stylize", 0, 1000),
    (_value_re("weird", "w"), "--weird", 0, 3000),
    (_value_re("seed"), "--seed", 0, 4294967295),
    (_value_re("stop"), "--stop", 10, 100),
    (_value_re("iw"), "--iw", 0, 3),
]
_AR_RE = _value_re("ar", "aspect")
_Q_RE = _value_re("q", "quality")
_BS_RE = _value_re("bs", "batchsize")
_DRAFT_RE = _flag_re("draft")
_TURBO_RE = _flag_re("turbo")
_HD_RE = _flag_re("hd")
_SV6_RE = re.compile(r"(?:^|\s)--sv\s+6(?=\s|$)")


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the prompt says about the model: version ("6", "6.1", "7", "8", "8.1", "niji6")."""

    version: str = "7"
    draft: bool = False
    turbo: bool = False
    premium: bool = False  # V8 --hd / --q 4 / --sv 6: 4x cost

    @property
    def is_v8(self) -> bool:
        return self.version in ("8", "8.1")


def normalize_prompt(prompt: str) -> str:
    """Turn the em/en dashes phones put in place of ``--`` back into ``--``."""
    return _DASHES.sub("--", prompt)


def parse_model(prompt: str, field: str = "text") -> ModelInfo:
    """Detect the model of a prompt; raise a 400 :class:`ApiError` for unsupported versions."""
    text = normalize_prompt(prompt)
    version = "7"
    niji = _NIJI_RE.search(text)
    ver = _VERSION_RE.search(text)
    if niji:
        if niji.group(1) not in (None, "6", "6.0"):
            raise _bad(f"{field}: niji {niji.group(1)} is not supported (only niji 6)")
        version = "niji6"
    elif ver:
        found = _SUPPORTED_VERSIONS.get(ver.group(1))
        if found is None:
            raise _bad(f"{field}: model version {ver.group(1)} is not supported (6, 6.1, 7, 8, 8.1, niji 6)")
        version = found
    draft = bool(_DRAFT_RE.search(text))
    if draft and version != "7":
        raise _bad(f"{field}: --draft is only supported by --v 7")
    turbo = bool(_TURBO_RE.search(text))
    premium = False
    if version == "8":
        q = _Q_RE.search(text)
        premium = bool(_HD_RE.search(text) or _SV6_RE.search(text) or (q and q.group(1) == "4"))
    return ModelInfo(version=version, draft=draft, turbo=turbo, premium=premium)


def check_image_prompt(prompt: str, model: ModelInfo, field: str) -> None:
    """Reject what the API rejects in an image prompt (400)."""
    text = normalize_prompt(prompt)
    for pattern, reason in _UNSUPPORTED_IMAGE_FLAGS:
        if pattern.search(text):
            raise _bad(f"{field}: {reason}")
    if _PERMUTATION_RE.search(text):
        raise _bad(f"{field}: {{a,b}} permutation prompts are not supported")
    removed = _V81_REMOVED if model.version == "8.1" else _V8_REMOVED if model.version == "8" else []
    for pattern, flag in removed:
        if pattern.search(text):
            raise _bad(f"{field}: {flag} is not supported by model v{model.version}")
    for pattern, flag, low, high in _RANGES:
        for match in pattern.finditer(text):
            try:
                value = float(match.group(1))
            except ValueError:
                raise _bad(f"{field}: {flag} needs a number") from None
            if not low <= value <= high:
                raise _bad(f"{field}: {flag} must be between {low:g} and {high:g}")
    for match in _AR_RE.finditer(text):
        if not re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", match.group(1)):
            raise _bad(f"{field}: --ar must be an integer ratio like 16:9")
    for match in _Q_RE.finditer(text):
        if match.group(1) not in ("0.25", ".25", "0.5", ".5", "1", "2", "4"):
            raise _bad(f"{field}: --q must be one of 0.25, 0.5, 1, 2, 4")


def video_batch_size(prompt: str, field: str = "prompt") -> int:
    match = _BS_RE.search(normalize_prompt(prompt))
    if match is None:
        return 4
    if match.group(1) not in ("1", "2", "4"):
        raise _bad(f"{field}: --bs must be 1, 2 or 4")
    return int(match.group(1))


def grid_actions(model: ModelInfo) -> JSONDict:
    """``available_actions`` of a finished grid made with ``model``."""
    idx = [0, 1, 2, 3]
    if model.is_v8:
        actions: JSONDict = {"edit": idx, "remix": idx, "reroll": True, "variation": idx}
    else:
        actions = {
            "edit": idx,
            "inpaint": idx,
            "outpaint": idx,
            "pan": idx,
            "remix": idx,
            "reroll": True,
            "upscale": idx,
            "variation": idx,
        }
        if model.draft:
            actions["enhance"] = idx
    return {key: (list(value) if isinstance(value, list) else value) for key, value in sorted(actions.items())}


# --------------------------------------------------------------------------------------------
# records


@dataclasses.dataclass
class RecordedRequest:
    """One request the simulator received (``path`` is after ``/api`` for API calls)."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]
    status: int = 0


@dataclasses.dataclass
class SimJob:
    """A job as the simulator keeps it. ``status`` is computed from the simulator's clock."""

    job_id: str
    task_type: str
    payload: Any
    prompt: str
    model: ModelInfo
    cost: int
    created_at: datetime
    seq: int
    duration: float
    created_v: float
    eligible_v: float
    parent_job_id: str | None = None
    image_no: int | None = None
    callback: str | None = None
    origin: str = ""
    outputs: int = 4
    colours: list[RGB] = dataclasses.field(default_factory=list)
    extensions: int = 0
    video_type: int = 0
    age_offset: timedelta = dataclasses.field(default_factory=timedelta)
    state: str = "pending"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    start_v: float | None = None
    end_v: float | None = None
    stuck: bool = False
    fail_with: tuple[int, str, str] | None = None
    error: JSONDict = dataclasses.field(default_factory=lambda: _flat_error(0, ""))
    seed: str = ""
    available_actions: JSONDict | None = None
    text_output: JSONDict | None = None
    consumed: int = 0
    finished: asyncio.Event | None = dataclasses.field(default=None, repr=False, compare=False)
    sim: Simulator | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def status(self) -> str:
        if self.sim is not None:
            self.sim.advance()
        return self.state

    @property
    def text(self) -> str:
        return self.prompt

    @property
    def terminal(self) -> bool:
        return self.state in ("completed", "failed")

    @property
    def kind(self) -> str:
        if self.task_type in VIDEO_TASKS:
            return "video"
        if self.task_type in TEXT_TASKS:
            return "text"
        return "image"


@dataclasses.dataclass
class _Injection:
    status: int
    message: str
    remaining: int
    method: str
    path: str | None
    shape: str
    retry_after: float | None
    create_job: bool

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method != method:
            return False
        return self.path is None or _path_matches(self.path, path)

    def response(self) -> web.Response:
        body = (_envelope_error if self.shape == "envelope" else _flat_error)(self.status, self.message)
        headers: dict[str, str] = {}
        retry_after = self.retry_after
        if retry_after is None and self.status == 429:
            retry_after = 1.0
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        return web.json_response(body, status=self.status, headers=headers)


@dataclasses.dataclass
class _Hang:
    seconds: float
    create_job: bool


def _path_matches(pattern: str, path: str) -> bool:
    if pattern.endswith("/"):
        return path.startswith(pattern)
    return path == pattern


# --------------------------------------------------------------------------------------------
# body validation helpers


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _get_str(body: JSONDict, key: str, *, required: bool, max_len: int = MAX_TEXT) -> str | None:
    value = body.get(key)
    if value is None:
        if key in body:
            raise _bad(f"{key}: must be a string, not null")
        if required:
            raise _bad(f"{key}: is required")
        return None
    if not isinstance(value, str):
        raise _bad(f"{key}: must be a string")
    if not 1 <= len(value) <= max_len:
        raise _bad(f"{key}: length must be between 1 and {max_len} characters")
    return value


def _req_str(body: JSONDict, key: str, max_len: int = MAX_TEXT) -> str:
    value = _get_str(body, key, required=True, max_len=max_len)
    assert value is not None
    return value


def _get_url(body: JSONDict, key: str, *, required: bool) -> str | None:
    value = _get_str(body, key, required=required, max_len=MAX_URL)
    if value is not None and not re.match(r"https?://\S+$", value):
        raise _bad(f"{key}: must be an http(s) URL")
    return value


def _get_int(body: JSONDict, key: str, low: int, high: int, *, required: bool) -> int | None:
    value = body.get(key)
    if value is None:
        if key in body:
            raise _bad(f"{key}: must be an integer, not null")
        if required:
            raise _bad(f"{key}: is required")
        return None
    if not _is_int(value):
        raise _bad(f"{key}: must be an integer")
    if not low <= value <= high:
        raise _bad(f"{key}: must be between {low} and {high}")
    return int(value)


def _req_int(body: JSONDict, key: str, low: int, high: int) -> int:
    value = _get_int(body, key, low, high, required=True)
    assert value is not None
    return value


def _req_number(body: JSONDict, key: str, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        raise _bad(f"{key}: is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"{key}: must be a number")
    if not low <= float(value) <= high:
        raise _bad(f"{key}: must be between {low:g} and {high:g}")
    return float(value)


def _check_callback(body: JSONDict) -> str | None:
    if "callback" not in body:
        return None
    value = body["callback"]
    if not isinstance(value, str):
        raise _bad("callback: must be a string")
    if value == "":
        return None
    if not re.match(r"https?://\S+$", value) or len(value) > MAX_URL:
        raise _bad("callback: must be an http(s) URL")
    return value


def _check_polygon(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise _bad(f"{where}: must be an object")
    for key in ("width", "height"):
        number = value.get(key)
        if not _is_int(number):
            raise _bad(f"{where}.{key}: must be an integer")
        if not 500 <= number <= 4096:
            raise _bad(f"{where}.{key}: must be between 500 and 4096")
    points = value.get("points")
    if not isinstance(points, list) or not all(_is_int(p) for p in points):
        raise _bad(f"{where}.points: must be an array of integers")
    if len(points) < 6 or len(points) % 2:
        raise _bad(f"{where}.points: needs an even number of coordinates, at least 6 (3 points)")
    if any(p < 0 for p in points):
        raise _bad(f"{where}.points: coordinates must not be negative")


def _check_mask(body: JSONDict, *, required: bool) -> None:
    if "mask" not in body or body["mask"] is None:
        if required:
            raise _bad("mask: is required")
        return
    mask = body["mask"]
    if not isinstance(mask, dict):
        raise _bad("mask: must be an object")
    areas = mask.get("areas")
    url = mask.get("url")
    if areas is None and url is None:
        raise _bad("mask: needs areas or url")
    if areas is not None:
        if not isinstance(areas, list) or not areas:
            raise _bad("mask.areas: must be a non-empty array of polygons")
        for i, area in enumerate(areas):
            _check_polygon(area, f"mask.areas[{i}]")
    if url is not None and (not isinstance(url, str) or not re.match(r"https?://\S+$", url) or len(url) > MAX_URL):
        raise _bad(f"mask.url: must be an http(s) URL of at most {MAX_URL} characters")


def _check_box(body: JSONDict, key: str, fields: Sequence[str]) -> None:
    value = body.get(key)
    if value is None:
        raise _bad(f"{key}: is required")
    if not isinstance(value, dict):
        raise _bad(f"{key}: must be an object")
    for name in fields:
        number = value.get(name)
        if not _is_int(number):
            raise _bad(f"{key}.{name}: must be an integer")
        if name in ("width", "height") and not 1 <= number <= 8192:
            raise _bad(f"{key}.{name}: must be between 1 and 8192")
        if name in ("x", "y") and not -8192 <= number <= 8192:
            raise _bad(f"{key}.{name}: out of range")


# --------------------------------------------------------------------------------------------
# the simulator


@dataclasses.dataclass
class _Plan:
    """What a validated submit will create."""

    task_type: str
    prompt: str
    model: ModelInfo
    cost: int
    parent: SimJob | None = None
    image_no: int | None = None
    outputs: int = 4
    colours: list[RGB] | None = None
    extensions: int = 0
    video_type: int = 0
    refuse_texts: list[str] = dataclasses.field(default_factory=list)


class Simulator:
    """State and knobs of a simulated Legnext account. Serve it with :func:`make_app`."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        balance: int = 100_000,
        time_scale: float = 1.0,
        durations: dict[str, float] | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.api_key = api_key
        self._initial_balance = balance
        self._initial_time_scale = time_scale
        self._initial_durations = {**DEFAULT_DURATIONS, **(durations or {})}
        self._balance = balance
        self._time_scale = time_scale
        self._virt_base = 0.0
        self._real_base = time.monotonic()
        self._sim_t = 0.0
        self.durations: dict[str, float] = dict(self._initial_durations)
        self.pending_for: float = 0.1
        self.max_concurrent: int = MAX_CONCURRENT
        self.signed_urls: bool = True
        self.base_url: str = ""
        self.requests: list[RecordedRequest] = []
        self.jobs: dict[str, SimJob] = {}
        self.refused_words: set[str] = set()
        self.callbacks_sent: list[tuple[str, JSONDict]] = []
        self._active: dict[str, SimJob] = {}
        self._seq = 0
        self._injections: list[_Injection] = []
        self._hang: _Hang | None = None
        self._fail_next: tuple[int, str, str] | None = None
        self._stick_next = False
        self._rng = random.Random()
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    # ---- clock -------------------------------------------------------------------------

    @property
    def time_scale(self) -> float:
        return self._time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        if value <= 0:
            raise ValueError("time_scale must be positive")
        now_real = time.monotonic()
        self._virt_base = self._virt_base + (now_real - self._real_base) * self._time_scale
        self._real_base = now_real
        self._time_scale = float(value)

    def now_v(self) -> float:
        """Simulated seconds since the simulator was made (scaled by ``time_scale``)."""
        return self._virt_base + (time.monotonic() - self._real_base) * self._time_scale

    def _wall_of(self, virtual: float, now_v: float) -> datetime:
        return _utcnow() - timedelta(seconds=max(0.0, now_v - virtual) / self._time_scale)

    # ---- balance -----------------------------------------------------------------------

    @property
    def balance(self) -> int:
        self.advance()
        return self._balance

    @balance.setter
    def balance(self, value: int) -> None:
        self._balance = int(value)

    # ---- inspection --------------------------------------------------------------------

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many recorded requests match ``method`` and ``path`` (a trailing ``/`` = prefix)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper()) and (path is None or _path_matches(path, r.path))
        )

    def job_json(self, job_id: str, origin: str | None = None) -> JSONDict:
        """The job object as ``GET /v1/job/{job_id}`` would return it now."""
        self.advance()
        return self._render(self.jobs[job_id], origin)

    # ---- knobs -------------------------------------------------------------------------

    def inject_error(
        self,
        status: int,
        message: str = "",
        *,
        count: int = 1,
        method: str = "POST",
        path: str | None = None,
        shape: str = "flat",
        retry_after: float | None = None,
        create_job: bool = False,
    ) -> None:
        """Answer the next ``count`` matching API requests with ``status``.

        ``shape`` is ``"flat"`` or ``"envelope"``; ``create_job`` makes the job (and bills it)
        before answering the error; ``method="*"`` matches any method.
        """
        if shape not in ("flat", "envelope"):
            raise ValueError("shape must be 'flat' or 'envelope'")
        self._injections.append(
            _Injection(
                status=status,
                message=message or DEFAULT_ERROR_MESSAGES.get(status, "error"),
                remaining=count,
                method=method.upper(),
                path=path,
                shape=shape,
                retry_after=retry_after,
                create_job=create_job,
            )
        )

    def hang_next_submit(self, seconds: float, *, create_job: bool = True) -> None:
        """The next submit waits ``seconds`` before answering.

        With ``create_job`` the job is created and billed first and then returned late; without,
        no job is created and the late answer is a 504.
        """
        self._hang = _Hang(seconds=seconds, create_job=create_job)

    def fail_next_job(self, message: str = "task failed", raw_message: str = "", code: int = 500) -> None:
        """The next created job ends ``failed`` (at its normal end time)."""
        self._fail_next = (code, message, raw_message)

    def fail_job(self, job_id: str, message: str = "task failed", raw_message: str = "", code: int = 500) -> None:
        """Fail ``job_id`` now (a finished job is turned into a failed one and refunded)."""
        self.advance()
        job = self.jobs[job_id]
        now_v = self.now_v()
        if job.state == "failed":
            return
        if job.state == "completed":
            job.state = "processing"
        elif job.state == "pending":
            job.start_v = now_v
            job.started_at = self._wall_of(now_v, now_v) - job.age_offset
        job.fail_with = (code, message, raw_message)
        self._finish(job, now_v, now_v)
        self._sim_t = max(self._sim_t, now_v)

    def keep_stuck(self, job_id: str | None = None) -> None:
        """Keep a job ``processing`` forever; ``None`` means the next created job."""
        if job_id is None:
            self._stick_next = True
            return
        self.advance()
        job = self.jobs[job_id]
        if job.terminal:
            log.warning("keep_stuck: job %s already %s", job_id, job.state)
            return
        job.stuck = True
        job.end_v = None

    def complete_now(self, job_id: str) -> None:
        """Jump ``job_id`` to completed."""
        self.advance()
        job = self.jobs[job_id]
        if job.terminal:
            return
        now_v = self.now_v()
        if job.start_v is None:
            job.start_v = now_v
            job.started_at = self._wall_of(now_v, now_v) - job.age_offset
        job.fail_with = None
        job.stuck = False
        self._finish(job, now_v, now_v)
        self._sim_t = max(self._sim_t, now_v)

    def age_job(self, job_id: str, days: float) -> None:
        """Move the job's timestamps ``days`` back (to test the 3-day follow-up window)."""
        job = self.jobs[job_id]
        delta = timedelta(days=days)
        job.age_offset += delta
        job.created_at -= delta
        if job.started_at is not None:
            job.started_at -= delta
        if job.ended_at is not None:
            job.ended_at -= delta

    def reset(self) -> None:
        """Clear knobs, jobs, requests and callbacks; balance, speed and durations back to initial."""
        for task in list(self._callback_tasks):
            task.cancel()
        self._callback_tasks.clear()
        self.requests.clear()
        self.jobs.clear()
        self._active.clear()
        self.callbacks_sent.clear()
        self.refused_words.clear()
        self._injections.clear()
        self._hang = None
        self._fail_next = None
        self._stick_next = False
        self._balance = self._initial_balance
        self.durations = dict(self._initial_durations)
        self.pending_for = 0.1
        self.max_concurrent = MAX_CONCURRENT
        self.signed_urls = True
        self.time_scale = self._initial_time_scale

    # ---- lifecycle ---------------------------------------------------------------------

    def advance(self) -> None:
        """Bring every job's state up to the current simulated time."""
        now_v = self.now_v()
        t = self._sim_t
        while self._active:
            running = [j for j in self._active.values() if j.state == "processing"]
            next_end = math.inf
            ender: SimJob | None = None
            for job in running:
                if job.end_v is not None and job.end_v < next_end:
                    next_end, ender = job.end_v, job
            next_start = math.inf
            starter: SimJob | None = None
            if len(running) < self.max_concurrent:
                pending = [j for j in self._active.values() if j.state == "pending"]
                if pending:
                    starter = min(pending, key=lambda j: (j.eligible_v, j.seq))
                    next_start = max(starter.eligible_v, t)
            event = min(next_end, next_start)
            if event > now_v or event == math.inf:
                break
            if ender is not None and next_end <= next_start:
                self._finish(ender, next_end, now_v)
            elif starter is not None:
                starter.state = "processing"
                starter.start_v = next_start
                starter.started_at = self._wall_of(next_start, now_v) - starter.age_offset
                if starter.stuck:
                    starter.end_v = None
                else:
                    starter.end_v = next_start + starter.duration * (1.0 - self.pending_for)
            t = event
        self._sim_t = max(self._sim_t, t)

    def _finish(self, job: SimJob, at_v: float, now_v: float) -> None:
        job.end_v = at_v
        job.ended_at = self._wall_of(at_v, now_v) - job.age_offset
        if job.started_at is None:
            job.started_at = job.ended_at
        if job.fail_with is not None:
            code, message, raw = job.fail_with
            job.state = "failed"
            job.error = {"code": code, "raw_message": raw, "message": message, "detail": None}
            self._balance += job.cost
            job.consumed = 0
            log.info("job %s (%s) failed: %s", job.job_id, job.task_type, message)
        else:
            job.state = "completed"
            job.consumed = job.cost
            job.seed = str(self._rng.randint(0, 4294967295))
            if job.task_type in GRID_TASKS:
                job.available_actions = grid_actions(job.model)
            elif job.task_type in ("video_diffusion", "extend_video"):
                idx = list(range(job.outputs))
                acts: JSONDict = {"upscale": idx}
                if job.extensions < MAX_VIDEO_EXTENSIONS:
                    acts = {"extend": list(idx), "upscale": idx}
                job.available_actions = acts
            if job.task_type in TEXT_TASKS:
                job.text_output = self._text_output(job)
            log.info("job %s (%s) completed", job.job_id, job.task_type)
        self._active.pop(job.job_id, None)
        if job.finished is not None:
            job.finished.set()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _create(self, plan: _Plan, payload: Any, callback: str | None, origin: str) -> SimJob:
        self.advance()
        now_v = self.now_v()
        duration = self.durations.get(plan.task_type, 30.0)
        job_id = str(uuid.uuid4())
        job = SimJob(
            job_id=job_id,
            task_type=plan.task_type,
            payload=payload,
            prompt=plan.prompt,
            model=plan.model,
            cost=plan.cost,
            created_at=_utcnow(),
            seq=self._next_seq(),
            duration=duration,
            created_v=now_v,
            eligible_v=now_v + duration * self.pending_for,
            parent_job_id=plan.parent.job_id if plan.parent else None,
            image_no=plan.image_no,
            callback=callback,
            origin=origin,
            outputs=plan.outputs,
            colours=plan.colours or [tile_colour(job_id, i) for i in range(plan.outputs)],
            extensions=plan.extensions,
            video_type=plan.video_type,
            sim=self,
        )
        if self._fail_next is not None:
            job.fail_with = self._fail_next
            self._fail_next = None
        if self._stick_next:
            job.stuck = True
            self._stick_next = False
        self._balance -= plan.cost
        self.jobs[job_id] = job
        self._active[job_id] = job
        log.info("job %s (%s) created, %d points frozen", job_id, plan.task_type, plan.cost)
        if callback:
            self._start_callback(job)
        return job

    # ---- callbacks ---------------------------------------------------------------------

    def _start_callback(self, job: SimJob) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("no running loop: callback for job %s will not be sent", job.job_id)
            return
        job.finished = asyncio.Event()
        task = loop.create_task(self._callback_worker(job))
        self._callback_tasks.add(task)
        task.add_done_callback(self._callback_tasks.discard)

    def _eta_real(self, job: SimJob) -> float:
        """Real seconds until the job is expected to change state (a guess; re-checked)."""
        now_v = self.now_v()
        if job.state == "processing":
            target = job.end_v if job.end_v is not None else now_v + 1.0
        else:
            target = max(job.eligible_v, now_v) + job.duration * (1.0 - self.pending_for)
        return max(0.005, min(1.0, (target - now_v) / self._time_scale))

    async def _callback_worker(self, job: SimJob) -> None:
        assert job.finished is not None and job.callback is not None
        while True:
            self.advance()
            if job.terminal:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.finished.wait(), timeout=self._eta_real(job))
        url = job.callback
        body: JSONDict = {"timestamp": int(time.time() * 1000), "data": self._render(job, None)}
        self.callbacks_sent.append((url, body))
        try:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            async with self._session.post(url, json=body) as resp:
                await resp.read()
                if resp.status >= 400:
                    log.warning("callback for job %s to %s answered HTTP %s", job.job_id, url, resp.status)
                else:
                    log.info("callback for job %s sent to %s", job.job_id, url)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("callback for job %s to %s failed: %r", job.job_id, url, exc)

    async def shutdown(self) -> None:
        """Cancel callback tasks and close the callback HTTP session."""
        tasks = list(self._callback_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._callback_tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- serving -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the simulator; sets and returns :attr:`base_url` (``http://host:port/api``)."""
        runner = web.AppRunner(make_app(self), shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound = port
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                bound = int(address[1])
                break
        public_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        if ":" in public_host:
            public_host = f"[{public_host}]"
        self.base_url = f"http://{public_host}:{bound}/api"
        log.info("Legnext simulator listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        await self.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- rendering ---------------------------------------------------------------------

    def _origin(self, job: SimJob, origin: str | None) -> str:
        if origin:
            return origin
        if job.origin:
            return job.origin
        if self.base_url:
            return self.base_url.rsplit("/api", 1)[0]
        return "http://127.0.0.1"

    def _sign(self, job: SimJob, name: str) -> str:
        if not self.signed_urls:
            return ""
        expires = int((job.created_at + STORAGE_WINDOW).timestamp())
        signature = hashlib.sha256(f"{job.job_id}/{name}/{expires}".encode()).hexdigest()[:40]
        return f"?Expires={expires}&Signature={signature}"

    def _file_url(self, job: SimJob, origin: str, name: str, signed: bool = True) -> str:
        url = f"{origin}/files/{job.job_id}/{name}"
        return url + (self._sign(job, name) if signed else "")

    def _skeleton(self, job: SimJob) -> JSONDict:
        if job.kind == "video":
            return {"video_urls": None, "seed": ""}
        if job.kind == "text":
            return {"promptEn": "", "description": "", "finalPrompt": "", "prompts": []}
        return {"image_url": "", "image_urls": None, "seed": ""}

    def _output(self, job: SimJob, origin: str) -> JSONDict:
        if job.state != "completed":
            return self._skeleton(job)
        if job.kind == "text":
            assert job.text_output is not None
            return dict(job.text_output)
        if job.kind == "video":
            out: JSONDict = {
                "video_urls": [self._file_url(job, origin, f"{i}.mp4") for i in range(job.outputs)],
                "seed": job.seed,
            }
            if job.available_actions is not None:
                out["available_actions"] = json.loads(json.dumps(job.available_actions))
            return out
        urls = [self._file_url(job, origin, f"{i}.png") for i in range(job.outputs)]
        if job.task_type in SINGLE_IMAGE_TASKS:
            return {"image_url": urls[0], "image_urls": urls, "seed": job.seed}
        grid = "" if job.task_type == "pan" else self._file_url(job, origin, "grid.png", signed=False)
        out = {"image_url": grid, "image_urls": urls, "seed": job.seed}
        if job.available_actions is not None:
            out["available_actions"] = json.loads(json.dumps(job.available_actions))
        return out

    def _render(self, job: SimJob, origin: str | None, *, submit: bool = False) -> JSONDict:
        zero = ZERO_TIME if job.seq % 2 else ""
        created = "" if submit and zero == "" else _iso(job.created_at)
        started = _iso(job.started_at) if job.started_at is not None and job.state != "pending" else zero
        ended = _iso(job.ended_at) if job.ended_at is not None and job.terminal else zero
        if job.state == "failed":
            error = dict(job.error)
        else:
            error = {"code": 0, "raw_message": "", "message": "", "detail": None}
        return {
            "job_id": job.job_id,
            "model": "midjourney",
            "task_type": job.task_type,
            "status": job.state,
            "config": {"service_mode": "public", "webhook_config": {"endpoint": job.callback or "", "secret": ""}},
            "input": None,
            "output": self._output(job, self._origin(job, origin)),
            "meta": {
                "created_at": created,
                "started_at": started,
                "ended_at": ended,
                "usage": {"type": "point", "frozen": job.cost, "consume": job.consumed},
            },
            "detail": None,
            "logs": [],
            "error": error,
        }

    def _text_output(self, job: SimJob) -> JSONDict:
        if job.task_type == "describe":
            subjects = ["a luminous city at dusk", "a quiet forest clearing", "a portrait in soft light", "an abstract"]
            prompts = [
                f"{s}, detailed illustration, cinematic lighting, seed {job.seed[:4]} --ar 1:1" for s in subjects
            ]
            emojis = ["1\ufe0f\u20e3", "2\ufe0f\u20e3", "3\ufe0f\u20e3", "4\ufe0f\u20e3"]
            return {
                "promptEn": "\n\n".join(f"{e} {p}" for e, p in zip(emojis, prompts, strict=True)),
                "description": "An image described by the Legnext simulator (no real analysis).",
                "finalPrompt": "",
                "prompts": prompts,
            }
        return _shorten_output(job.prompt)

    # ---- request handling --------------------------------------------------------------

    def take_injection(self, method: str, path: str) -> _Injection | None:
        for inj in self._injections:
            if inj.remaining > 0 and inj.matches(method, path):
                inj.remaining -= 1
                if inj.remaining <= 0:
                    self._injections.remove(inj)
                return inj
        return None

    def take_hang(self) -> _Hang | None:
        hang, self._hang = self._hang, None
        return hang

    def check_key(self, key: str) -> bool:
        if not key:
            return False
        if self.api_key is None:
            return True
        return hmac.compare_digest(key.encode(), self.api_key.encode())

    def refused(self, texts: Sequence[str]) -> bool:
        words = [w.lower() for w in self.refused_words if w]
        return any(word in text.lower() for text in texts for word in words)

    def _parent(self, body: JSONDict, key: str = "jobId") -> SimJob:
        job_id = _req_str(body, key, max_len=128)
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "job not found")
        if _utcnow() - job.created_at > FOLLOW_UP_WINDOW:
            raise ApiError(404, "job not found: outside the operation window (3 days after creation)")
        self.advance()
        if job.state != "completed":
            raise _bad(f"{key}: job {job_id} is {job.state}, not completed")
        return job

    def _grid_parent(self, body: JSONDict, action: str, image_no: int | None) -> SimJob:
        parent = self._parent(body)
        if parent.task_type not in GRID_TASKS or parent.available_actions is None:
            raise _bad(f"jobId: {action} is not available for a {parent.task_type} job; use the grid job and imageNo")
        allowed = parent.available_actions.get(action)
        if action == "reroll":
            if allowed is not True:
                raise _bad("jobId: reroll is not available for this job")
            return parent
        if not isinstance(allowed, list):
            if action == "enhance":
                raise _bad("jobId: enhance needs a source job made with --v 7 --draft")
            raise _bad(f"jobId: {action} is not available for this job (model v{parent.model.version})")
        if image_no not in allowed:
            raise _bad(f"imageNo: {action} is not available for image {image_no} of this job")
        return parent

    def plan(self, endpoint: str, body: JSONDict) -> _Plan:
        """Validate a submit body; return what to create or raise :class:`ApiError`."""
        task = ENDPOINTS[endpoint]
        handler = getattr(self, "_plan_" + task)
        plan: _Plan = handler(body)
        return plan

    @staticmethod
    def _image_cost(base: int, model: ModelInfo, *, draft_halves: bool = False) -> int:
        cost = base
        if draft_halves and model.draft:
            cost //= 2
        if model.turbo:
            cost *= 2
        if model.premium:
            cost *= 4
        return cost

    def _plan_diffusion(self, body: JSONDict) -> _Plan:
        text = _req_str(body, "text")
        model = parse_model(text, "text")
        check_image_prompt(text, model, "text")
        return _Plan("diffusion", text, model, self._image_cost(80, model, draft_halves=True), refuse_texts=[text])

    def _finish_follow_up(self, body: JSONDict, task: str, base_cost: int, image_no: int, remix: str | None) -> _Plan:
        texts = [remix] if remix else []
        if self.refused(texts):
            raise _refusal()
        parent = self._grid_parent(body, task, image_no)
        if remix is not None:
            check_image_prompt(remix, parent.model, "remixPrompt")
        model = parent.model
        if task == "enhance":
            model = dataclasses.replace(model, draft=False)
        return _Plan(
            task,
            remix or parent.prompt,
            model,
            self._image_cost(base_cost, parent.model),
            parent=parent,
            image_no=image_no,
            refuse_texts=texts,
        )

    def _plan_variation(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        _req_int(body, "type", 0, 1)
        remix = _get_str(body, "remixPrompt", required=False)
        return self._finish_follow_up(body, "variation", 120, image_no, remix)

    def _plan_upscale(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        kind = _req_int(body, "type", 0, 3)
        if kind >= 2:
            raise _bad(f"type: {kind} ({2 if kind == 2 else 4}x) is deprecated and only supported by v5/niji5")
        plan = self._finish_follow_up(body, "upscale", 160 if kind == 1 else 120, image_no, None)
        assert plan.parent is not None
        plan.outputs = 1
        plan.colours = [plan.parent.colours[image_no]]
        return plan

    def _plan_reroll(self, body: JSONDict) -> _Plan:
        _req_str(body, "jobId", max_len=128)
        parent = self._grid_parent(body, "reroll", None)
        return _Plan(
            "reroll", parent.prompt, parent.model, self._image_cost(80, parent.model, draft_halves=True), parent=parent
        )

    def _plan_blend(self, body: JSONDict) -> _Plan:
        urls = body.get("imgUrls")
        if urls is None:
            raise _bad("imgUrls: is required")
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise _bad("imgUrls: must be an array of strings")
        if not 2 <= len(urls) <= 5:
            raise _bad("imgUrls: must hold 2 to 5 images")
        for i, url in enumerate(urls):
            if not re.match(r"https?://\S+$", url) or len(url) > MAX_URL:
                raise _bad(f"imgUrls[{i}]: must be an http(s) URL of at most {MAX_URL} characters")
        ratio = body.get("aspect_ratio")
        if ratio is None:
            raise _bad("aspect_ratio: is required")
        if ratio not in ("2:3", "1:1", "3:2"):
            raise _bad("aspect_ratio: must be one of 2:3, 1:1, 3:2")
        return _Plan("blend", " ".join(urls), ModelInfo(), 80)

    def _plan_describe(self, body: JSONDict) -> _Plan:
        url = _get_url(body, "imgUrl", required=True)
        assert url is not None
        return _Plan("describe", url, ModelInfo(), 20, outputs=0)

    def _plan_shorten(self, body: JSONDict) -> _Plan:
        prompt = _req_str(body, "prompt")
        return _Plan("shorten", prompt, ModelInfo(), 20, outputs=0, refuse_texts=[prompt])

    def _plan_pan(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        _req_int(body, "direction", 0, 3)
        _req_number(body, "scale", 1.1, 3.0)
        remix = _get_str(body, "remixPrompt", required=False)
        return self._finish_follow_up(body, "pan", 80, image_no, remix)

    def _plan_outpaint(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        _req_number(body, "scale", 1.1, 2.0)
        remix = _get_str(body, "remixPrompt", required=False)
        return self._finish_follow_up(body, "outpaint", 80, image_no, remix)

    def _plan_inpaint(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        has_area = body.get("area") is not None
        _check_mask(body, required=not has_area)
        if has_area:
            _check_polygon(body["area"], "area")
        remix = _get_str(body, "remixPrompt", required=False)
        return self._finish_follow_up(body, "inpaint", 80, image_no, remix)

    def _plan_remix(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        remix = _get_str(body, "remixPrompt", required=True)
        _get_int(body, "mode", 0, 1, required=False)
        return self._finish_follow_up(body, "remix", 80, image_no, remix)

    def _plan_edit(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        _check_box(body, "canvas", ("width", "height"))
        _check_box(body, "imgPos", ("width", "height", "x", "y"))
        remix = _get_str(body, "remixPrompt", required=True)
        _check_mask(body, required=False)
        return self._finish_follow_up(body, "edit", 80, image_no, remix)

    def _plan_enhance(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        return self._finish_follow_up(body, "enhance", 80, image_no, None)

    def _plan_upload_paint(self, body: JSONDict) -> _Plan:
        url = _get_url(body, "imgUrl", required=True)
        _check_box(body, "canvas", ("width", "height"))
        _check_box(body, "imgPos", ("width", "height", "x", "y"))
        remix = _req_str(body, "remixPrompt")
        _check_mask(body, required=True)
        model = parse_model(remix, "remixPrompt")
        check_image_prompt(remix, model, "remixPrompt")
        assert url is not None
        return _Plan("upload_paint", remix, model, self._image_cost(80, model), refuse_texts=[remix])

    def _plan_retexture(self, body: JSONDict) -> _Plan:
        _get_url(body, "imgUrl", required=True)
        remix = _req_str(body, "remixPrompt")
        model = parse_model(remix, "remixPrompt")
        check_image_prompt(remix, model, "remixPrompt")
        return _Plan("retexture", remix, model, self._image_cost(80, model), refuse_texts=[remix])

    def _plan_remove_background(self, body: JSONDict) -> _Plan:
        url = _get_url(body, "imgUrl", required=True)
        assert url is not None
        return _Plan("remove_background", url, ModelInfo(), 80, outputs=1)

    def _plan_video_diffusion(self, body: JSONDict) -> _Plan:
        video_type = _get_int(body, "videoType", 0, 1, required=False) or 0
        has_job = body.get("jobId") is not None
        prompt = _get_str(body, "prompt", required=not has_job)
        image_no: int | None = None
        if has_job:
            image_no = _req_int(body, "imageNo", 0, 3)
        elif prompt is not None and not re.match(r"https?://\S+(\s|$)", prompt.strip()):
            raise _bad('prompt: must start with an image URL: "<image_url> your prompt" (or send jobId and imageNo)')
        batch = video_batch_size(prompt or "")
        if prompt and self.refused([prompt]):
            raise _refusal()
        parent: SimJob | None = None
        if has_job:
            parent = self._parent(body)
            if parent.kind != "image":
                raise _bad(f"jobId: job {parent.job_id} is a {parent.task_type} job, not an image job")
            if image_no is None or image_no >= parent.outputs:
                raise _bad(f"imageNo: job has no image {image_no}")
        base = 1536 if video_type == 1 else 480
        return _Plan(
            "video_diffusion",
            prompt or (parent.prompt if parent else ""),
            ModelInfo(version="video"),
            base * batch // 4,
            parent=parent,
            image_no=image_no,
            outputs=batch,
            video_type=video_type,
            refuse_texts=[prompt] if prompt else [],
        )

    def _video_parent(self, body: JSONDict, action: str) -> tuple[SimJob, int]:
        video_no = _req_int(body, "videoNo", 0, 3)
        _req_str(body, "jobId", max_len=128)
        return self._check_video_parent(body, action, video_no)

    def _check_video_parent(self, body: JSONDict, action: str, video_no: int) -> tuple[SimJob, int]:
        parent = self._parent(body)
        if parent.task_type not in ("video_diffusion", "extend_video") or parent.available_actions is None:
            raise _bad(f"jobId: job {parent.job_id} is a {parent.task_type} job, not a video job")
        allowed = parent.available_actions.get(action)
        if not isinstance(allowed, list):
            if action == "extend":
                raise _bad(f"jobId: the video was already extended {MAX_VIDEO_EXTENSIONS} times")
            raise _bad(f"jobId: {action} is not available for this video")
        if video_no not in allowed:
            raise _bad(f"videoNo: job has no video {video_no}")
        return parent, video_no

    def _plan_extend_video(self, body: JSONDict) -> _Plan:
        video_no = _req_int(body, "videoNo", 0, 3)
        prompt = _get_str(body, "prompt", required=False)
        _req_str(body, "jobId", max_len=128)
        if prompt and self.refused([prompt]):
            raise _refusal()
        parent, _ = self._check_video_parent(body, "extend", video_no)
        return _Plan(
            "extend_video",
            prompt or parent.prompt,
            parent.model,
            480,
            parent=parent,
            image_no=video_no,
            outputs=parent.outputs,
            extensions=parent.extensions + 1,
            video_type=parent.video_type,
            refuse_texts=[prompt] if prompt else [],
        )

    def _plan_video_upscale(self, body: JSONDict) -> _Plan:
        parent, video_no = self._video_parent(body, "upscale")
        return _Plan(
            "video_upscale",
            parent.prompt,
            parent.model,
            480,
            parent=parent,
            image_no=video_no,
            outputs=1,
            video_type=parent.video_type,
        )

    def _plan_enhance_upscale(self, body: JSONDict) -> _Plan:
        resolution = body.get("target_resolution", "2K")
        if not isinstance(resolution, str) or resolution not in ENHANCE_UPSCALE_COST:
            raise _bad("target_resolution: must be one of {}".format(", ".join(ENHANCE_UPSCALE_COST)))
        for key, allowed in ENHANCE_UPSCALE_ENUMS.items():
            if key in body and body[key] not in allowed:
                raise _bad("{}: must be one of {}".format(key, ", ".join(allowed)))
        has_job = body.get("jobId") is not None
        url = body.get("image_url")
        if has_job and url is not None:
            raise _bad("image_url: give either image_url or jobId and imageNo, not both")
        cost = ENHANCE_UPSCALE_COST[str(resolution)]
        if not has_job:
            if url is None:
                raise _bad("image_url: is required (or jobId and imageNo)")
            if not isinstance(url, str) or not re.match(r"https?://\S+$", url) or len(url) > MAX_URL:
                raise _bad(f"image_url: must be an http(s) URL of at most {MAX_URL} characters")
            return _Plan("enhance_upscale", url, ModelInfo(), cost, outputs=1)
        image_no = _req_int(body, "imageNo", 0, 3)
        parent = self._parent(body)
        if parent.kind != "image" or image_no >= parent.outputs:
            raise _bad(f"imageNo: job {parent.job_id} has no image {image_no}")
        return _Plan(
            "enhance_upscale",
            parent.prompt,
            parent.model,
            cost,
            parent=parent,
            image_no=image_no,
            outputs=1,
            colours=[parent.colours[image_no]],
        )


SIM_KEY: web.AppKey[Simulator] = web.AppKey("legnext_simulator", Simulator)


def _refusal() -> ApiError:
    return ApiError(403, "Your prompt contains sensitive content and was blocked by moderation")


_STOP_WORDS = frozenset(
    "a an the of and or with in on at to for by from very is are be this that it its as into over under".split()
)


def _shorten_output(prompt: str) -> JSONDict:
    body = re.split(r"\s--", normalize_prompt(prompt), maxsplit=1)[0]
    words = [w.strip(",.;:!?") for w in body.split()]
    words = [w for w in words if w]
    important = [w for w in words if w.lower() not in _STOP_WORDS] or words or ["image"]
    prompts: list[str] = []
    for keep in (1.0, 0.8, 0.6, 0.4, 0.25):
        n = max(1, round(len(important) * keep))
        prompts.append(", ".join(important[:n]))
    top = important[:3]
    marked = " ".join(f"**{w}**" if w in top else (f"~~{w}~~" if w.lower() in _STOP_WORDS else w) for w in words)
    emojis = ["1\ufe0f\u20e3", "2\ufe0f\u20e3", "3\ufe0f\u20e3", "4\ufe0f\u20e3", "5\ufe0f\u20e3"]
    options = "\n".join(f"{e} {p}" for e, p in zip(emojis, prompts, strict=True))
    final = f"**Important tokens**\n{marked}\n\n**Shortened prompts**\n{options}"
    return {
        "promptEn": "",
        "description": f"The most influential words are: {', '.join(top)}.",
        "finalPrompt": final,
        "prompts": prompts,
    }


# --------------------------------------------------------------------------------------------
# aiohttp application

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise _bad("body: invalid JSON (empty body)")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _bad("body: invalid JSON") from None


def _request_origin(request: web.Request) -> str:
    host = request.headers.get("Host") or request.host
    return f"{request.scheme}://{host}"


def make_app(sim: Simulator) -> web.Application:
    """The aiohttp application that serves ``sim`` (API under ``/api``, files, ``/_sim`` knobs)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sim"):
            return await handler(request)
        rec_path = path[len("/api") :] if path.startswith("/api/") else path
        body: Any = None
        if request.can_read_body:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                body = json.loads(await request.read())
        record = RecordedRequest(
            method=request.method,
            path=rec_path,
            json=body,
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        sim.requests.append(record)
        try:
            response = await _dispatch(request, handler, rec_path, path.startswith("/api/"))
        except web.HTTPException as exc:
            record.status = exc.status
            raise
        except ApiError as exc:
            response = exc.response()
        except Exception:
            log.exception("simulator error on %s %s", request.method, path)
            response = web.json_response(_flat_error(500, "internal server error"), status=500)
        record.status = response.status
        return response

    async def _dispatch(request: web.Request, handler: Handler, rec_path: str, is_api: bool) -> web.StreamResponse:
        if not is_api:
            return await handler(request)
        if not sim.check_key(request.headers.get("x-api-key", "")):
            return web.json_response(_flat_error(401, "Failed to verify api key"), status=401)
        injection = sim.take_injection(request.method, rec_path)
        if injection is None:
            return await handler(request)
        if not injection.create_job:
            log.info("injected HTTP %s for %s %s", injection.status, request.method, rec_path)
            return injection.response()
        try:
            await handler(request)
        except ApiError as exc:
            log.info("injected error after a refused request (%s)", exc.message)
        log.info("injected HTTP %s after creating the job for %s", injection.status, rec_path)
        return injection.response()

    async def submit(request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        if endpoint not in ENDPOINTS:
            raise ApiError(404, "not found")
        body = await _read_json(request)
        if not isinstance(body, dict):
            raise _bad("body: must be a JSON object")
        callback = _check_callback(body)
        plan = sim.plan(endpoint, body)
        if plan.refuse_texts and sim.refused(plan.refuse_texts):
            raise _refusal()
        balance = sim.balance
        if balance < plan.cost:
            raise ApiError(402, "insufficient balance", f"balance {balance} points, task needs {plan.cost}")
        hang = sim.take_hang()
        if hang is not None and not hang.create_job:
            log.info("hanging %s for %.2fs without creating a job", endpoint, hang.seconds)
            await asyncio.sleep(hang.seconds)
            return web.json_response(_flat_error(504, "gateway timeout"), status=504)
        job = sim._create(plan, body, callback, _request_origin(request))
        answer = sim._render(job, _request_origin(request), submit=True)
        if hang is not None:
            log.info("hanging %s for %.2fs after creating job %s", endpoint, hang.seconds, job.job_id)
            await asyncio.sleep(hang.seconds)
        return web.json_response(answer)

    async def get_job(request: web.Request) -> web.StreamResponse:
        job_id = request.match_info["job_id"]
        if job_id not in sim.jobs:
            raise ApiError(404, "job not found")
        return web.json_response(sim.job_json(job_id, _request_origin(request)))

    async def balance(request: web.Request) -> web.StreamResponse:
        points = sim.balance
        usd = points / 1000
        return web.json_response(
            {
                "code": 200,
                "message": "success",
                "data": {
                    "account_id": 1,
                    "balance_usd": usd,
                    "available_credits": points,
                    "available_points": points,
                    "alert_threshold": 10,
                    "low_balance_alert": usd < 10,
                    "updated_at": _utcnow().isoformat().replace("+00:00", "Z"),
                },
            }
        )

    async def api_not_found(request: web.Request) -> web.StreamResponse:
        raise ApiError(404, "not found")

    async def files(request: web.Request) -> web.StreamResponse:
        job = sim.jobs.get(request.match_info["job_id"])
        name = request.match_info["name"]
        sim.advance()
        if job is None or job.state != "completed" or _utcnow() - job.created_at > STORAGE_WINDOW:
            raise web.HTTPNotFound()
        if job.kind == "video":
            match = re.fullmatch(r"([0-9])\.mp4", name)
            if match is None or int(match.group(1)) >= job.outputs:
                raise web.HTTPNotFound()
            return web.Response(body=make_mp4(job.job_id, int(match.group(1))), content_type="video/mp4")
        if job.kind != "image":
            raise web.HTTPNotFound()
        if name == "grid.png" and job.task_type in GRID_TASKS:
            return web.Response(body=make_png(128, 128, tuple(job.colours[:4]), 2), content_type="image/png")
        match = re.fullmatch(r"([0-9])\.png", name)
        if match is None or int(match.group(1)) >= job.outputs:
            raise web.HTTPNotFound()
        size = 128 if job.task_type in SINGLE_IMAGE_TASKS else 64
        colour = job.colours[int(match.group(1))]
        return web.Response(body=make_png(size, size, (colour,)), content_type="image/png")

    app = web.Application(middlewares=[middleware], client_max_size=16 * 1024 * 1024)
    app[SIM_KEY] = sim
    app.router.add_post("/api/v1/{endpoint}", submit)
    app.router.add_get("/api/v1/job/{job_id}", get_job)
    app.router.add_get("/api/account/balance", balance)
    app.router.add_route("*", "/api/{tail:.*}", api_not_found)
    app.router.add_get("/files/{job_id}/{name}", files)
    _add_control_routes(app, sim)

    async def on_cleanup(_: web.Application) -> None:
        await sim.shutdown()

    app.on_cleanup.append(on_cleanup)
    return app


# --------------------------------------------------------------------------------------------
# /_sim control plane


async def _control_body(request: web.Request) -> JSONDict:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise web.HTTPBadRequest(text="invalid JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


def _ok(**extra: Any) -> web.Response:
    return web.json_response({"ok": True, **extra})


def _job_or_404(sim: Simulator, job_id: str) -> SimJob:
    job = sim.jobs.get(job_id)
    if job is None:
        raise web.HTTPNotFound(
            text=json.dumps({"ok": False, "error": "job not found"}), content_type="application/json"
        )
    return job


def _add_control_routes(app: web.Application, sim: Simulator) -> None:
    async def inject_error(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        try:
            sim.inject_error(
                int(body["status"]),
                str(body.get("message") or ""),
                count=int(body.get("count", 1)),
                method=str(body.get("method", "POST")),
                path=body.get("path"),
                shape=str(body.get("shape", "flat")),
                retry_after=None if body.get("retry_after") is None else float(body["retry_after"]),
                create_job=bool(body.get("create_job", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"bad inject_error body: {exc!r}") from None
        return _ok()

    async def hang(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        sim.hang_next_submit(float(body.get("seconds", 30.0)), create_job=bool(body.get("create_job", True)))
        return _ok()

    async def fail_next(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        sim.fail_next_job(
            str(body.get("message", "task failed")), str(body.get("raw_message", "")), int(body.get("code", 500))
        )
        return _ok()

    async def fail(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        job = _job_or_404(sim, request.match_info["job_id"])
        sim.fail_job(
            job.job_id,
            str(body.get("message", "task failed")),
            str(body.get("raw_message", "")),
            int(body.get("code", 500)),
        )
        return _ok()

    async def refuse(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        words = body.get("words", [])
        if not isinstance(words, list):
            raise web.HTTPBadRequest(text="words must be a list")
        if body.get("replace"):
            sim.refused_words.clear()
        sim.refused_words.update(str(w) for w in words)
        return _ok(words=sorted(sim.refused_words))

    async def stuck(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        job_id = body.get("job_id") or request.match_info.get("job_id")
        if job_id is not None:
            _job_or_404(sim, str(job_id))
        sim.keep_stuck(None if job_id is None else str(job_id))
        return _ok()

    async def complete(request: web.Request) -> web.StreamResponse:
        job = _job_or_404(sim, request.match_info["job_id"])
        sim.complete_now(job.job_id)
        return _ok()

    async def age(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        job = _job_or_404(sim, request.match_info["job_id"])
        sim.age_job(job.job_id, float(body.get("days", 4.0)))
        return _ok()

    async def time_scale(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        try:
            sim.time_scale = float(body["value"])
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"bad time_scale body: {exc!r}") from None
        return _ok(value=sim.time_scale)

    async def set_balance(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        sim.balance = int(body["value"])
        return _ok(value=sim.balance)

    async def durations(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        sim.durations.update({str(k): float(v) for k, v in body.items()})
        return _ok(durations=sim.durations)

    async def requests_(request: web.Request) -> web.StreamResponse:
        return web.json_response([dataclasses.asdict(r) for r in sim.requests])

    async def jobs(request: web.Request) -> web.StreamResponse:
        return web.json_response([sim.job_json(job_id) for job_id in list(sim.jobs)])

    async def callbacks(request: web.Request) -> web.StreamResponse:
        return web.json_response([{"url": url, "body": body} for url, body in sim.callbacks_sent])

    async def state(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "balance": sim.balance,
                "time_scale": sim.time_scale,
                "jobs": len(sim.jobs),
                "requests": len(sim.requests),
                "callbacks_sent": len(sim.callbacks_sent),
                "refused_words": sorted(sim.refused_words),
                "base_url": sim.base_url,
            }
        )

    async def reset(request: web.Request) -> web.StreamResponse:
        sim.reset()
        return _ok()

    router = app.router
    router.add_post("/_sim/inject_error", inject_error)
    router.add_post("/_sim/hang_next_submit", hang)
    router.add_post("/_sim/fail_next_job", fail_next)
    router.add_post("/_sim/fail/{job_id}", fail)
    router.add_post("/_sim/refuse", refuse)
    router.add_post("/_sim/stuck", stuck)
    router.add_post("/_sim/stuck/{job_id}", stuck)
    router.add_post("/_sim/complete/{job_id}", complete)
    router.add_post("/_sim/age/{job_id}", age)
    router.add_post("/_sim/time_scale", time_scale)
    router.add_post("/_sim/balance", set_balance)
    router.add_post("/_sim/durations", durations)
    router.add_get("/_sim/requests", requests_)
    router.add_get("/_sim/jobs", jobs)
    router.add_get("/_sim/callbacks", callbacks)
    router.add_get("/_sim/state", state)
    router.add_post("/_sim/reset", reset)


@contextlib.asynccontextmanager
async def running_simulator(host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> AsyncIterator[Simulator]:
    """Start a :class:`Simulator` (``kwargs`` go to its constructor) and serve it while in the block."""
    sim = Simulator(**kwargs)
    await sim.start(host, port)
    try:
        yield sim
    finally:
        await sim.stop()


# --------------------------------------------------------------------------------------------
# command line


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.legnext.simulator",
        description="Serve a local simulator of the Legnext AI API (base URL http://HOST:PORT/api).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--time-scale", type=float, default=1.0, help="speed factor: 10 makes jobs 10x faster")
    parser.add_argument("--balance", type=int, default=100_000, help="starting balance in points")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any non-empty key)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    sim = Simulator(api_key=args.api_key, balance=args.balance, time_scale=args.time_scale)
    await sim.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.info("simulator ready: base_url=%s time_scale=%s balance=%s", sim.base_url, args.time_scale, args.balance)
    try:
        await stop.wait()
    finally:
        log.info("simulator stopping")
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
