"""Typed requests and responses of the Legnext API.

Requests are checked against the documented ranges before anything is sent. Responses accept every quirk in
legnext-notes.md: empty and zero timestamps, both error body shapes, unknown statuses, task types and actions
(kept as strings), and keys the docs do not list (`extra="allow"`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

# --------------------------------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------------------------------

ZERO_TIME_PREFIX = "0001-01-01"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _none_if_blank(v: Any) -> Any:
    return None if v is None or v == "" else v


def _lenient_str(v: Any) -> str:
    """Any JSON value as text: null -> "", other non-strings -> their str()."""
    return "" if v is None else v if isinstance(v, str) else str(v)


def _lenient_int(v: Any) -> int:
    """Any JSON value as a whole number ("80", 80.0 and 80 alike); anything else -> 0."""
    try:
        return int(v)
    except (TypeError, ValueError, OverflowError):
        pass
    try:
        return int(float(v))
    except (TypeError, ValueError, OverflowError):
        return 0


def _lenient_float(v: Any) -> float:
    try:
        return 0.0 if isinstance(v, bool) else float(v)
    except (TypeError, ValueError, OverflowError):
        return 0.0


def _dict_or_none(v: Any) -> Any:
    return v if isinstance(v, dict) else None


def _figure_float(v: Any) -> float | None:
    """A figure of the balance: a finite number, or a string holding one ("72.048"); anything else (absent, null,
    "n/a", true, NaN) is None: not known, never 0."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v.strip() if isinstance(v, str) else v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _figure_int(v: Any) -> int | None:
    """A whole-number figure of the balance ("1048", 1048.0 and 1048 alike); unreadable -> None, as above."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            pass
    f = _figure_float(v)
    return None if f is None else int(f)


# Field types that take any JSON value the API might send instead of failing the whole job object.
Text = Annotated[str, BeforeValidator(_lenient_str)]
Int = Annotated[int, BeforeValidator(_lenient_int)]
Float = Annotated[float, BeforeValidator(_lenient_float)]
# A balance figure: None when the answer doesn't hold a readable number (an unread balance is not an empty one).
Figure = Annotated[int | None, BeforeValidator(_figure_int)]
FigureFloat = Annotated[float | None, BeforeValidator(_figure_float)]


class Usage(_Lenient):
    type: Text = "point"
    frozen: Int = 0
    consume: Int = 0


class JobMeta(_Lenient):
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    usage: Usage = Field(default_factory=Usage)

    @field_validator("created_at", "started_at", "ended_at", mode="before")
    @classmethod
    def _time(cls, v: Any) -> Any:
        """'' and '0001-01-01T00:00:00Z' both mean 'not yet'; anything unparsable is treated the same.

        A timestamp without an offset is taken as UTC, so every parsed value is timezone-aware.
        """
        if not isinstance(v, str) or not v or v.startswith(ZERO_TIME_PREFIX):
            return None
        try:
            parsed = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)

    @field_validator("usage", mode="before")
    @classmethod
    def _usage(cls, v: Any) -> Any:
        return v if isinstance(v, dict) else {}


class JobError(_Lenient):
    code: Int = 0
    message: Text = ""
    raw_message: Text = ""
    detail: Any = None

    @property
    def text(self) -> str:
        """The most specific message: `raw_message` is often the better one."""
        return self.raw_message or self.message


class JobOutput(_Lenient):
    image_url: str | None = None
    image_urls: list[str] | None = None
    seed: str | None = None
    available_actions: dict[str, Any] | None = None
    video_urls: list[str] | None = None
    promptEn: str | None = None
    description: str | None = None
    finalPrompt: str | None = None
    prompts: list[str] | None = None

    @field_validator("image_url", "promptEn", "description", "finalPrompt", mode="before")
    @classmethod
    def _str(cls, v: Any) -> Any:
        return _none_if_blank(v) if isinstance(v, str) or v is None else str(v)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, v: Any) -> Any:
        if v is None or v == "" or isinstance(v, bool):
            return None
        return str(v)

    @field_validator("image_urls", "video_urls", "prompts", mode="before")
    @classmethod
    def _str_list(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return None
        return [str(x) for x in v if isinstance(x, str | int | float) and not isinstance(x, bool) and str(x)]

    @field_validator("available_actions", mode="before")
    @classmethod
    def _actions(cls, v: Any) -> Any:
        return v if isinstance(v, dict) else None

    def images(self) -> list[str]:
        return list(self.image_urls or [])

    def action_indexes(self, action: str) -> set[int]:
        """Image numbers (0-based) for which `action` is offered; `reroll: true` gives {0}."""
        value = (self.available_actions or {}).get(action)
        if value is True:
            return {0}
        if isinstance(value, list):
            return {int(x) for x in value if isinstance(x, int) and not isinstance(x, bool)}
        return set()

    def describe_prompts(self) -> list[str]:
        """The prompts of a describe/shorten result, from `prompts` or, failing that, the numbered `promptEn`."""
        if self.prompts:
            return [p.strip() for p in self.prompts if p.strip()]
        if not self.promptEn:
            return []
        parts = re.split(r"\s*(?:[1-9]\ufe0f?\u20e3)\s*", self.promptEn)
        return [p.strip() for p in parts if p.strip()]


class WebhookConfig(_Lenient):
    endpoint: Text = ""
    secret: Text = ""


class JobConfig(_Lenient):
    service_mode: Text = ""
    webhook_config: Annotated[WebhookConfig | None, BeforeValidator(_dict_or_none)] = None


class Job(_Lenient):
    """The job object every submit and `GET /v1/job/{id}` returns (also the error envelope shape)."""

    job_id: Text = ""
    model: Text = ""
    task_type: Text = ""
    status: Annotated[str, BeforeValidator(lambda v: _lenient_str(v).strip().lower())] = ""
    config: Annotated[JobConfig | None, BeforeValidator(_dict_or_none)] = None
    input: Any = None
    output: Annotated[JobOutput | None, BeforeValidator(_dict_or_none)] = None
    meta: Annotated[JobMeta | None, BeforeValidator(_dict_or_none)] = None
    detail: Any = None
    logs: list[Any] | None = None
    error: Annotated[JobError | None, BeforeValidator(_dict_or_none)] = None

    @field_validator("logs", mode="before")
    @classmethod
    def _logs(cls, v: Any) -> Any:
        return v if isinstance(v, list) else None

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def failed(self) -> bool:
        """A failure is `status == "failed"`; `error` is present (code 0) on success too."""
        return self.status == "failed"

    @property
    def finished(self) -> bool:
        return self.completed or self.failed

    @property
    def running(self) -> bool:
        """Anything not completed or failed (including statuses we do not know) is still running."""
        return not self.finished

    @property
    def error_text(self) -> str:
        return self.error.text if self.error else ""

    @property
    def usage(self) -> Usage:
        return self.meta.usage if self.meta else Usage()


class ErrorBody(_Lenient):
    """An HTTP error body: flat `{code, message, raw_message, detail}` or the whole job envelope."""

    code: Int = 0
    message: Text = ""
    raw_message: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return {"message": "" if v is None else str(v)[:500]}
        err = v.get("error")
        if isinstance(err, dict) and not v.get("message"):
            return {
                "code": err.get("code", v.get("code", 0)),
                "message": err.get("message") or "",
                "raw_message": err.get("raw_message") or "",
            }
        return {"code": v.get("code", 0), "message": v.get("message") or "", "raw_message": v.get("raw_message") or ""}


class BalanceData(_Lenient):
    """GET /account/balance's `data`. The figures are in thousandths of a dollar (docs: balance_usd 72.048 =
    71,000 credits + 1,048 points); each is None when the answer has no readable number for it."""

    account_id: int | str | None = None
    balance_usd: FigureFloat = None
    available_credits: Figure = None
    available_points: Figure = None
    alert_threshold: float | None = None
    low_balance_alert: bool = False
    updated_at: str | None = None

    @field_validator("account_id", mode="before")
    @classmethod
    def _account(cls, v: Any) -> Any:
        return v if isinstance(v, int | str) and not isinstance(v, bool) else None

    @field_validator("alert_threshold", mode="before")
    @classmethod
    def _threshold(cls, v: Any) -> float | None:
        try:
            return None if v is None or isinstance(v, bool) else float(v)
        except (TypeError, ValueError, OverflowError):
            return None

    @field_validator("low_balance_alert", mode="before")
    @classmethod
    def _alert(cls, v: Any) -> bool:
        if isinstance(v, str):
            return v.strip().lower() in ("true", "1", "yes")
        return v is True or (isinstance(v, int | float) and not isinstance(v, bool) and v == 1)

    @field_validator("updated_at", mode="before")
    @classmethod
    def _updated(cls, v: Any) -> str | None:
        return v if isinstance(v, str) else None

    @property
    def spendable_points(self) -> int | None:
        """What the account can still spend, in points (1,000 per USD): its credits plus its bonus points. None
        unless both figures were read."""
        if self.available_credits is None or self.available_points is None:
            return None
        return self.available_credits + self.available_points


class Balance(_Lenient):
    code: Int = 200
    message: Text = ""
    data: BalanceData = Field(default_factory=BalanceData)

    @field_validator("data", mode="before")
    @classmethod
    def _d(cls, v: Any) -> Any:
        return v if isinstance(v, dict) else {}

    def problem(self) -> str | None:
        """Why this answer is not a reading of the balance (an error `code` in the body of an HTTP 200, a figure
        missing or unreadable), or None when it is one."""
        if self.code != 200:
            return f"code {self.code}" + (f" ({self.message[:100]})" if self.message else "")
        missing = [k for k in ("available_credits", "available_points") if getattr(self.data, k) is None]
        return f"no readable {' or '.join(missing)}" if missing else None


# --------------------------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------------------------

Prompt = str  # 1-8192 characters, checked per field below
PROMPT_MAX = 8192


class _Req(BaseModel):
    """A submit body. `path` is the endpoint under the base URL; dump with `body()`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    path: ClassVar[str]
    task_type: ClassVar[str]

    callback: str | None = Field(default=None, max_length=2048)

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)

    @field_validator("callback")
    @classmethod
    def _cb(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v


def _url(v: str, max_len: int = 1024) -> str:
    if not v.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    if len(v) > max_len:
        raise ValueError(f"must be at most {max_len} characters")
    return v


ImageNo = Field(alias="imageNo", ge=0, le=3)
JobId = Field(alias="jobId", min_length=1, max_length=128)
RemixPrompt = Field(default=None, alias="remixPrompt", min_length=1, max_length=PROMPT_MAX)


class Diffusion(_Req):
    path = "/v1/diffusion"
    task_type = "diffusion"
    text: str = Field(min_length=1, max_length=PROMPT_MAX)


class Variation(_Req):
    path = "/v1/variation"
    task_type = "variation"
    job_id: str = JobId
    image_no: int = ImageNo
    type: Literal[0, 1]
    remix_prompt: str | None = RemixPrompt


class Upscale(_Req):
    path = "/v1/upscale"
    task_type = "upscale"
    job_id: str = JobId
    image_no: int = ImageNo
    type: Literal[0, 1, 2, 3]


class Reroll(_Req):
    path = "/v1/reroll"
    task_type = "reroll"
    job_id: str = JobId
    remix_prompt: str | None = RemixPrompt


class Blend(_Req):
    path = "/v1/blend"
    task_type = "blend"
    img_urls: list[str] = Field(alias="imgUrls", min_length=2, max_length=5)
    aspect_ratio: Literal["2:3", "1:1", "3:2"] = "1:1"

    @field_validator("img_urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        return [_url(u, 4096) for u in v]


class Describe(_Req):
    path = "/v1/describe"
    task_type = "describe"
    img_url: str = Field(alias="imgUrl")

    @field_validator("img_url")
    @classmethod
    def _u(cls, v: str) -> str:
        return _url(v, 4096)


class Shorten(_Req):
    path = "/v1/shorten"
    task_type = "shorten"
    prompt: str = Field(min_length=1, max_length=PROMPT_MAX)


class Pan(_Req):
    path = "/v1/pan"
    task_type = "pan"
    job_id: str = JobId
    image_no: int = ImageNo
    direction: Literal[0, 1, 2, 3]  # 0=Down 1=Right 2=Up 3=Left
    scale: float = Field(ge=1.1, le=3.0)
    remix_prompt: str | None = RemixPrompt


class Outpaint(_Req):
    path = "/v1/outpaint"
    task_type = "outpaint"
    job_id: str = JobId
    image_no: int = ImageNo
    scale: float = Field(ge=1.1, le=2.0)
    remix_prompt: str | None = RemixPrompt


class Polygon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    width: int = Field(ge=500, le=4096)
    height: int = Field(ge=500, le=4096)
    points: list[int] = Field(min_length=6)

    @model_validator(mode="after")
    def _points(self) -> Polygon:
        if len(self.points) % 2:
            raise ValueError("points must be x,y pairs")
        xs, ys = self.points[0::2], self.points[1::2]
        if min(xs) < 0 or max(xs) > self.width or min(ys) < 0 or max(ys) > self.height:
            raise ValueError("points must lie inside width x height")
        return self


class Mask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    areas: list[Polygon] | None = Field(default=None, min_length=1)
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _u(cls, v: str | None) -> str | None:
        return None if v is None else _url(v)

    @model_validator(mode="after")
    def _one(self) -> Mask:
        if not self.areas and not self.url:
            raise ValueError("needs areas or url")
        return self


class Canvas(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    width: int = Field(ge=1, le=8192)
    height: int = Field(ge=1, le=8192)


class CanvasImg(Canvas):
    x: int = Field(ge=-8192, le=8192)
    y: int = Field(ge=-8192, le=8192)


class Inpaint(_Req):
    path = "/v1/inpaint"
    task_type = "inpaint"
    job_id: str = JobId
    image_no: int = ImageNo
    mask: Mask
    remix_prompt: str | None = RemixPrompt
    area: Polygon | None = None


class Remix(_Req):
    path = "/v1/remix"
    task_type = "remix"
    job_id: str = JobId
    image_no: int = ImageNo
    remix_prompt: str = Field(alias="remixPrompt", min_length=1, max_length=PROMPT_MAX)
    mode: Literal[0, 1] | None = None


class Edit(_Req):
    path = "/v1/edit"
    task_type = "edit"
    job_id: str = JobId
    image_no: int = ImageNo
    canvas: Canvas
    img_pos: CanvasImg = Field(alias="imgPos")
    remix_prompt: str = Field(alias="remixPrompt", min_length=1, max_length=PROMPT_MAX)
    mask: Mask | None = None


class UploadPaint(_Req):
    path = "/v1/upload-paint"
    task_type = "upload_paint"
    img_url: str = Field(alias="imgUrl")
    canvas: Canvas
    img_pos: CanvasImg = Field(alias="imgPos")
    remix_prompt: str = Field(alias="remixPrompt", min_length=1, max_length=PROMPT_MAX)
    mask: Mask

    @field_validator("img_url")
    @classmethod
    def _u(cls, v: str) -> str:
        return _url(v)


class Retexture(_Req):
    path = "/v1/retexture"
    task_type = "retexture"
    img_url: str = Field(alias="imgUrl")
    remix_prompt: str = Field(alias="remixPrompt", min_length=1, max_length=PROMPT_MAX)

    @field_validator("img_url")
    @classmethod
    def _u(cls, v: str) -> str:
        return _url(v)


class RemoveBackground(_Req):
    path = "/v1/remove-background"
    task_type = "remove_background"
    img_url: str = Field(alias="imgUrl")

    @field_validator("img_url")
    @classmethod
    def _u(cls, v: str) -> str:
        return _url(v)


class Enhance(_Req):
    path = "/v1/enhance"
    task_type = "enhance"
    job_id: str = JobId
    image_no: int = ImageNo


class VideoDiffusion(_Req):
    """Either animate a generated image (`jobId` + `imageNo`) or give a prompt that starts with an image URL."""

    path = "/v1/video-diffusion"
    task_type = "video_diffusion"
    job_id: str | None = Field(default=None, alias="jobId", min_length=1, max_length=128)
    image_no: int | None = Field(default=None, alias="imageNo", ge=0, le=3)
    prompt: str | None = Field(default=None, min_length=1, max_length=PROMPT_MAX)
    video_type: Literal[0, 1] | None = Field(default=None, alias="videoType")

    @model_validator(mode="after")
    def _mode(self) -> VideoDiffusion:
        if (self.job_id is None) != (self.image_no is None):
            raise ValueError("jobId and imageNo go together")
        if self.job_id is None and not self.prompt:
            raise ValueError("needs jobId and imageNo, or a prompt starting with an image URL")
        return self


class ExtendVideo(_Req):
    path = "/v1/extend-video"
    task_type = "extend_video"
    job_id: str = JobId
    video_no: int = Field(alias="videoNo", ge=0, le=3)
    prompt: str | None = Field(default=None, min_length=1, max_length=PROMPT_MAX)


class VideoUpscale(_Req):
    path = "/v1/video-upscale"
    task_type = "video_upscale"
    job_id: str = JobId
    video_no: int = Field(alias="videoNo", ge=0, le=3)


class EnhanceUpscale(_Req):
    path = "/v1/enhance-upscale"
    task_type = "enhance_upscale"
    image_url: str | None = None
    job_id: str | None = Field(default=None, alias="jobId", min_length=1, max_length=128)
    image_no: int | None = Field(default=None, alias="imageNo", ge=0, le=3)
    target_resolution: Literal["HD", "FHD", "2K", "4K", "6K", "8K", "12K"] | None = None
    content_type: Literal["standard", "photo", "illustration", "text", "low_res"] | None = None
    aspect_ratio: Literal["keep", "1:1", "16:9", "9:16", "4:5", "5:4", "3:2", "2:3", "4:3", "3:4"] | None = None
    crop_mode: Literal["letterbox", "crop", "stretch"] | None = None
    output_format: Literal["jpeg", "jpg", "png", "tiff", "tif"] | None = None
    face_enhancement_level: Literal["off", "none", "subtle", "moderate", "strong"] | None = None

    @field_validator("image_url")
    @classmethod
    def _u(cls, v: str | None) -> str | None:
        return None if v is None else _url(v, 4096)

    @model_validator(mode="after")
    def _mode(self) -> EnhanceUpscale:
        by_job = self.job_id is not None and self.image_no is not None
        if (self.job_id is None) != (self.image_no is None):
            raise ValueError("jobId and imageNo go together")
        if by_job == (self.image_url is not None):
            raise ValueError("give exactly one of image_url, or jobId with imageNo")
        return self


REQUEST_TYPES: tuple[type[_Req], ...] = (
    Diffusion, Variation, Upscale, Reroll, Blend, Describe, Shorten, Pan, Outpaint, Inpaint, Remix, Edit,
    UploadPaint, Retexture, RemoveBackground, Enhance, VideoDiffusion, ExtendVideo, VideoUpscale, EnhanceUpscale,
)
SubmitRequest = _Req


def request_class(task_type: str) -> type[SubmitRequest]:
    """The request model that submits `task_type` (a queued job's stored body is sent with it)."""
    for cls in _all_requests(SubmitRequest):
        if getattr(cls, "task_type", None) == task_type:
            return cls
    raise KeyError(task_type)


def _all_requests(base: type[SubmitRequest]) -> list[type[SubmitRequest]]:
    out: list[type[SubmitRequest]] = []
    for sub in base.__subclasses__():
        out.append(sub)
        out.extend(_all_requests(sub))
    return out
