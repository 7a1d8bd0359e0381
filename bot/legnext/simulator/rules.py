"""The pure rules of the simulated API: constants (endpoints, costs, durations, limits, error messages),
prompt and model parsing, request-field checks (masks, polygons, boxes) and what a finished grid offers.

Nothing here serves HTTP or keeps state; a broken rule raises :class:`ApiError`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

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


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


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


# the video model's parameters (docs, "Video Parameters"; every other one is 🚫 in the model table's video column)
_VIDEO_IMAGE_ONLY: list[tuple[re.Pattern[str], str]] = [
    (_flag_re(*names), flag) for names, flag in (
        (("tile",), "--tile"), (("chaos", "c"), "--chaos"), (("seed", "sameseed"), "--seed"), (("stop",), "--stop"),
        (("weird", "w"), "--weird"), (("stylize", "s"), "--stylize"), (("quality", "q"), "--q"), (("hd",), "--hd"),
        (("iw",), "--iw"), (("no",), "--no"), (("sref",), "--sref"), (("oref",), "--oref"), (("ow",), "--ow"),
        (("cref",), "--cref"), (("cw",), "--cw"), (("sv",), "--sv"), (("sw",), "--sw"), (("draft",), "--draft"),
        (("exp",), "--exp"), (("p", "personalize"), "--p"), (("relax",), "--relax"), (("ar", "aspect"), "--ar"),
        (("v", "version"), "--v"), (("niji",), "--niji"),
    )
]
_MOTION_RE = _value_re("motion")
_END_RE = re.compile(r"(?:^|\s)--end(?:\s+(\S+))?(?=\s|$)")
_START_RE = re.compile(r"\s*(https?://\S+)(?=\s|$)")


def check_video_prompt(prompt: str, field: str = "prompt") -> None:
    """Reject what the API rejects in a video prompt (400): image-only parameters, `--motion` other than low/high,
    `--end` without one image link, `--bs` other than 1, 2 or 4."""
    text = normalize_prompt(prompt)
    for pattern, flag in _VIDEO_IMAGE_ONLY:
        if pattern.search(text):
            raise _bad(f"{field}: {flag} is not supported by the video model")
    motions = [m.group(1).lower() for m in _MOTION_RE.finditer(text)]
    if len(motions) != len(_flag_re("motion").findall(text)) or not set(motions) <= {"low", "high"}:
        raise _bad(f"{field}: --motion must be low or high")
    for match in _END_RE.finditer(text):
        if match.group(1) is None or not re.fullmatch(r"https?://\S+", match.group(1)):
            raise _bad(f"{field}: --end needs an image URL")
    if _PERMUTATION_RE.search(text):
        raise _bad(f"{field}: {{a,b}} permutation prompts are not supported")
    video_batch_size(prompt, field)


def video_image_urls(prompt: str) -> list[str]:
    """The images a video prompt makes the API fetch: the start frame at its front, and the `--end` frame."""
    text = normalize_prompt(prompt)
    urls: list[str] = []
    start = _START_RE.match(text)
    if start is not None:
        urls.append(start.group(1))
    for match in _END_RE.finditer(text):
        if match.group(1) is not None:
            urls.append(match.group(1))
    return urls


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
    # [doc] "Image width/height in pixels" and "polygon coordinates in XYXY format": x, y pairs inside the image
    xs, ys = points[0::2], points[1::2]
    if max(xs) > value["width"] or max(ys) > value["height"]:
        raise _bad(f"{where}.points: every point must lie inside the {value['width']}x{value['height']} image")
    # a polygon encloses an area: at least 3 distinct points, not all on one line
    if len(set(zip(xs, ys, strict=True))) < 3 or _twice_area(xs, ys) == 0:
        raise _bad(f"{where}.points: the points must form a polygon with an area, not a line or a dot")


def _twice_area(xs: list[int], ys: list[int]) -> int:
    n = len(xs)
    return sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))


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
        # every polygon is drawn on the same image: one width and height for all
        if len({(a["width"], a["height"]) for a in areas}) > 1:
            raise _bad("mask.areas: every polygon must give the same image width and height")
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
# refusals and shortened prompts


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
