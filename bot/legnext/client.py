"""The Legnext API client: one shared `httpx.AsyncClient`, typed requests and responses.

Retry policy (legnext-notes.md, "Submitting is not idempotent"):
- reads (job status, balance) are retried on transport errors, 429 and 5xx, with exponential backoff and full
  jitter, honouring `Retry-After`;
- a submit is retried only when it provably never reached the server (the connection was never made) or was
  refused with 429; a submit that may have reached the API (timeout after sending, broken connection, 5xx)
  raises `SubmitOutcomeUnknown` and is never sent again.
The API key travels only in the `x-api-key` header of each request; it is not in any repr, log line or error.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr, ValidationError

from bot.legnext import models as m
from bot.legnext.errors import (
    InvalidRequest,
    LegnextError,
    RateLimited,
    SubmitOutcomeUnknown,
    TransportError,
    UnexpectedResponse,
    error_for_status,
)

log = logging.getLogger(__name__)

R = TypeVar("R", bound=m.SubmitRequest)

# Errors raised before a single byte of the request could reach the server.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def build(cls: type[R], **fields: Any) -> R:
    """Build and check a request; a broken rule raises `InvalidRequest` naming the field (nothing is sent)."""
    try:
        return cls.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        err = e.errors(include_input=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or cls.__name__
        field = loc
        for f_name, f_info in cls.model_fields.items():
            if f_info.alias and loc.split(".")[0] == f_name:
                field = f_info.alias + loc[len(f_name):]
        raise InvalidRequest(field, str(err["msg"]).removeprefix("Value error, ")) from None


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class LegnextClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr | str,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 30.0,
        read_retries: int = 4,
        submit_429_retries: int = 2,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 20.0,
        max_retry_after_s: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient()
        self.timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        self.read_retries = read_retries
        self.submit_429_retries = submit_429_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.max_retry_after_s = max_retry_after_s
        # told of every request: (endpoint, method, HTTP status or 0 for no answer, seconds); set by the bot
        self.on_request: Callable[[str, str, int, float], None] | None = None

    def __repr__(self) -> str:
        return f"LegnextClient(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> LegnextClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ---------------------------------------------------------------------------------------------------- transport

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s) + random.uniform(0, 0.25)
        return random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * (2**attempt)))

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key.get_secret_value(), "accept": "application/json"}

    def _observe(self, path: str, method: str, status: int, started: float) -> None:
        if self.on_request is not None:
            # "/v1/job/<id>" -> "job", "/v1/diffusion" -> "diffusion", "/account/balance" -> "balance"
            parts = [p for p in path.split("/") if p]
            endpoint = parts[1] if len(parts) > 1 and parts[0] == "v1" else parts[-1] if parts else "?"
            self.on_request(endpoint, method, status, time.monotonic() - started)

    @staticmethod
    def _error(resp: httpx.Response) -> LegnextError:
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text[:300]
        parsed = m.ErrorBody.model_validate(body)
        cls = error_for_status(resp.status_code)
        message = parsed.message or parsed.raw_message or resp.reason_phrase or f"HTTP {resp.status_code}"
        if cls is RateLimited:
            return RateLimited(
                message, retry_after=parse_retry_after(resp.headers.get("retry-after")), status=resp.status_code,
                raw_message=parsed.raw_message, code=parsed.code,
            )
        return cls(message, status=resp.status_code, raw_message=parsed.raw_message, code=parsed.code)

    async def _get(self, path: str, *, retries: int | None = None) -> Any:
        url = self.base_url + path
        last: LegnextError | None = None
        for attempt in range(max(0, self.read_retries if retries is None else retries) + 1):
            if attempt:
                delay = self._delay(attempt - 1, getattr(last, "retry_after", None))
                log.info("retrying GET %s in %.1fs after %r", path, delay, last)
                await asyncio.sleep(delay)
            started = time.monotonic()
            try:
                resp = await self._http.get(url, headers=self._headers(), timeout=self.timeout)
            except httpx.TransportError as e:
                self._observe(path, "GET", 0, started)
                last = TransportError(f"{type(e).__name__} talking to the Legnext API")
                continue
            except httpx.HTTPError as e:  # answered, but the answer can't be read (DecodingError, ...): no retry
                self._observe(path, "GET", 0, started)
                raise UnexpectedResponse(
                    f"the Legnext API's answer could not be read ({type(e).__name__})") from None
            self._observe(path, "GET", resp.status_code, started)
            if resp.status_code == 429 or resp.status_code >= 500:
                last = self._error(resp)
                continue
            if resp.status_code >= 400:
                raise self._error(resp)
            return self._json(resp)
        assert last is not None
        raise last

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        url = self.base_url + path
        never_sent_tries = 0
        limited_tries = 0
        while True:
            started = time.monotonic()
            try:
                resp = await self._http.post(url, json=body, headers=self._headers(), timeout=self.timeout)
            except _NEVER_SENT as e:
                self._observe(path, "POST", 0, started)
                never_sent_tries += 1
                if never_sent_tries > self.read_retries:
                    raise TransportError(f"cannot connect to the Legnext API ({type(e).__name__})") from None
                delay = self._delay(never_sent_tries - 1, None)
                log.info("POST %s never reached the API (%s); retrying in %.1fs", path, type(e).__name__, delay)
                await asyncio.sleep(delay)
                continue
            except httpx.TransportError as e:
                self._observe(path, "POST", 0, started)
                log.warning("POST %s outcome unknown: %s", path, type(e).__name__)
                raise SubmitOutcomeUnknown(
                    f"no answer from the Legnext API ({type(e).__name__}); the job may or may not have started"
                ) from None
            except httpx.HTTPError as e:  # sent and answered, but the answer can't be read: the job may exist
                self._observe(path, "POST", 0, started)
                log.warning("POST %s outcome unknown: unreadable answer (%s)", path, type(e).__name__)
                raise SubmitOutcomeUnknown(
                    f"the Legnext API's answer could not be read ({type(e).__name__}); the job may or may not have "
                    "started") from None
            self._observe(path, "POST", resp.status_code, started)
            if resp.status_code == 429:
                err = self._error(resp)
                limited_tries += 1
                if limited_tries > self.submit_429_retries:
                    raise err
                delay = self._delay(limited_tries - 1, getattr(err, "retry_after", None))
                log.info("POST %s refused with 429; retrying in %.1fs", path, delay)
                await asyncio.sleep(delay)
                continue
            if resp.status_code >= 500:
                err = self._error(resp)
                log.warning("POST %s outcome unknown: HTTP %d", path, resp.status_code)
                raise SubmitOutcomeUnknown(
                    f"the Legnext API answered {resp.status_code} ({err.message}); the job may or may not have started",
                    status=resp.status_code, raw_message=err.raw_message, code=err.code,
                )
            if resp.status_code >= 400:
                raise self._error(resp)
            try:
                return resp.json()
            except ValueError:  # accepted (2xx) but unreadable: the job may well exist and be billed
                raise SubmitOutcomeUnknown(
                    f"the Legnext API answered HTTP {resp.status_code} without JSON; the job may or may not have "
                    "started") from None

    @staticmethod
    def _json(resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise UnexpectedResponse(f"the Legnext API answered HTTP {resp.status_code} without JSON") from None

    # ---------------------------------------------------------------------------------------------------- API

    async def submit(self, req: m.SubmitRequest) -> m.Job:
        """Send one submit. The caller must have recorded the job first: this may raise `SubmitOutcomeUnknown`."""
        data = await self._post(req.path, req.body())
        job = m.Job.model_validate(data if isinstance(data, dict) else {})
        if not job.job_id:
            if job.error and job.error.code:
                cls = error_for_status(job.error.code)
                raise cls(job.error.message or "request refused", status=job.error.code,
                          raw_message=job.error.raw_message, code=job.error.code)
            # a 2xx without a job id: the job may exist and be billed, and can't be followed
            raise SubmitOutcomeUnknown("the Legnext API accepted the job but returned no job id")
        log.info("submitted %s as job %s (%d points frozen)", req.task_type, job.job_id, job.usage.frozen)
        return job

    async def get_job(self, job_id: str) -> m.Job:
        if not job_id or "/" in job_id:
            raise InvalidRequest("job_id", "must be a job id")
        data = await self._get(f"/v1/job/{job_id}")
        return m.Job.model_validate(data if isinstance(data, dict) else {})

    async def balance(self, *, retries: int | None = None) -> m.Balance:
        """The account's balance. `retries` replaces `read_retries` for this one read (the start-up check uses 1).
        An answer that is not a reading (an error `code` in the body, no readable credits or points) raises
        `UnexpectedResponse`: an unread balance is never taken for an empty one."""
        data = await self._get("/account/balance", retries=retries)
        bal = m.Balance.model_validate(data if isinstance(data, dict) else {})
        problem = bal.problem()
        if problem is not None:
            raise UnexpectedResponse(f"couldn't read the balance from the Legnext API's answer: {problem}")
        return bal

    # one method per endpoint ------------------------------------------------------------------------------------

    async def diffusion(self, text: str, *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.Diffusion, text=text, callback=callback))

    async def variation(
        self, job_id: str, image_no: int, type: int, *, remix_prompt: str | None = None, callback: str | None = None
    ) -> m.Job:
        return await self.submit(build(m.Variation, jobId=job_id, imageNo=image_no, type=type,
                                       remixPrompt=remix_prompt, callback=callback))

    async def upscale(self, job_id: str, image_no: int, type: int = 0, *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.Upscale, jobId=job_id, imageNo=image_no, type=type, callback=callback))

    async def reroll(self, job_id: str, *, remix_prompt: str | None = None, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.Reroll, jobId=job_id, remixPrompt=remix_prompt, callback=callback))

    async def blend(self, img_urls: list[str], aspect_ratio: str = "1:1", *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.Blend, imgUrls=img_urls, aspect_ratio=aspect_ratio, callback=callback))

    async def describe(self, img_url: str, *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.Describe, imgUrl=img_url, callback=callback))

    async def shorten(self, prompt: str, *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.Shorten, prompt=prompt, callback=callback))

    async def pan(
        self, job_id: str, image_no: int, direction: int, scale: float = 1.5, *,
        remix_prompt: str | None = None, callback: str | None = None,
    ) -> m.Job:
        return await self.submit(build(m.Pan, jobId=job_id, imageNo=image_no, direction=direction, scale=scale,
                                       remixPrompt=remix_prompt, callback=callback))

    async def outpaint(
        self, job_id: str, image_no: int, scale: float, *, remix_prompt: str | None = None, callback: str | None = None
    ) -> m.Job:
        return await self.submit(build(m.Outpaint, jobId=job_id, imageNo=image_no, scale=scale,
                                       remixPrompt=remix_prompt, callback=callback))

    async def inpaint(
        self, job_id: str, image_no: int, mask: m.Mask | dict[str, Any], *,
        remix_prompt: str | None = None, callback: str | None = None,
    ) -> m.Job:
        return await self.submit(build(m.Inpaint, jobId=job_id, imageNo=image_no, mask=mask,
                                       remixPrompt=remix_prompt, callback=callback))

    async def remix(
        self, job_id: str, image_no: int, remix_prompt: str, *, mode: int | None = None, callback: str | None = None
    ) -> m.Job:
        return await self.submit(build(m.Remix, jobId=job_id, imageNo=image_no, remixPrompt=remix_prompt,
                                       mode=mode, callback=callback))

    async def edit(
        self, job_id: str, image_no: int, canvas: m.Canvas | dict[str, Any], img_pos: m.CanvasImg | dict[str, Any],
        remix_prompt: str, *, mask: m.Mask | dict[str, Any] | None = None, callback: str | None = None,
    ) -> m.Job:
        return await self.submit(build(m.Edit, jobId=job_id, imageNo=image_no, canvas=canvas, imgPos=img_pos,
                                       remixPrompt=remix_prompt, mask=mask, callback=callback))

    async def upload_paint(
        self, img_url: str, canvas: m.Canvas | dict[str, Any], img_pos: m.CanvasImg | dict[str, Any],
        remix_prompt: str, mask: m.Mask | dict[str, Any], *, callback: str | None = None,
    ) -> m.Job:
        return await self.submit(build(m.UploadPaint, imgUrl=img_url, canvas=canvas, imgPos=img_pos,
                                       remixPrompt=remix_prompt, mask=mask, callback=callback))

    async def retexture(self, img_url: str, remix_prompt: str, *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.Retexture, imgUrl=img_url, remixPrompt=remix_prompt, callback=callback))

    async def remove_background(self, img_url: str, *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.RemoveBackground, imgUrl=img_url, callback=callback))

    async def enhance(self, job_id: str, image_no: int, *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.Enhance, jobId=job_id, imageNo=image_no, callback=callback))

    async def video_diffusion(
        self, *, prompt: str | None = None, job_id: str | None = None, image_no: int | None = None,
        video_type: int | None = None, callback: str | None = None,
    ) -> m.Job:
        return await self.submit(build(m.VideoDiffusion, prompt=prompt, jobId=job_id, imageNo=image_no,
                                       videoType=video_type, callback=callback))

    async def extend_video(
        self, job_id: str, video_no: int, *, prompt: str | None = None, callback: str | None = None
    ) -> m.Job:
        return await self.submit(build(m.ExtendVideo, jobId=job_id, videoNo=video_no, prompt=prompt,
                                       callback=callback))

    async def video_upscale(self, job_id: str, video_no: int, *, callback: str | None = None) -> m.Job:
        return await self.submit(build(m.VideoUpscale, jobId=job_id, videoNo=video_no, callback=callback))

    async def enhance_upscale(
        self, *, image_url: str | None = None, job_id: str | None = None, image_no: int | None = None,
        target_resolution: str | None = None, content_type: str | None = None, aspect_ratio: str | None = None,
        crop_mode: str | None = None, output_format: str | None = None, face_enhancement_level: str | None = None,
        callback: str | None = None,
    ) -> m.Job:
        return await self.submit(build(
            m.EnhanceUpscale, image_url=image_url, jobId=job_id, imageNo=image_no,
            target_resolution=target_resolution, content_type=content_type, aspect_ratio=aspect_ratio,
            crop_mode=crop_mode, output_format=output_format, face_enhancement_level=face_enhancement_level,
            callback=callback,
        ))
