"""Vary (Region)'s page, served by the bot's web server under `/region/`:

- `GET /region/<token>`: the editor (plain HTML, CSS and a small script, all served from here; nothing loaded from
  elsewhere, a strict Content-Security-Policy), or a page that says why the link can't be used.
- `GET /region/<token>/image`: the upscaled image, streamed through for that link only (at most SHOWN_MAX_MB).
- `POST /region/<token>`: the regions and the prompt as JSON; answered with JSON (`ok`, `message`, `link` or
  `error`). The token is checked before the body is read; the body is read whole (it may arrive in pieces), at
  most MAX_BODY bytes, within BODY_TIMEOUT_S.
- `GET /region/static/<name>`: the page's script and style sheet (a fixed list, never a path from the request).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import string
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.core.errors import BadInput, Expired, NotAllowed, SubmittedButUnrecorded, UserError, user_message
from bot.core.limits import NotPermitted
from bot.core.prompt import PromptError
from bot.legnext.errors import LegnextError, SubmitOutcomeUnknown
from cogs.imagine.editor import (
    PROMPT_MAX,
    REFUSED,
    Image,
    ImageNotShown,
    ImageUnavailable,
    MemberUnchecked,
    Opened,
    Refused,
    RegionEditor,
    started_sentence,
)
from cogs.imagine.regions import MAX_AREAS, MAX_POINTS, MAX_TOTAL_POINTS, mask_space

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # the regions of a page are a few KB; the point limits keep them far below this
BODY_TIMEOUT_S = 20.0  # a body still arriving after this is refused (a slow sender holds nothing longer)
TOO_LARGE = "That's far more than a page sends: too many regions or points."
RETRY_AFTER_S = "5"  # an image that can't be fetched just now
STATIC_DIR = Path(__file__).parent / "static"
STATIC = {"region.js": "text/javascript", "region.css": "text/css", "icon.svg": "image/svg+xml"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _load(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def plain_text(sentence: str) -> str:
    """A member-facing sentence (written for Discord's markdown) as plain text."""
    return sentence.replace("**", "").replace("`", "")


class RegionPages:
    def __init__(self, editor: RegionEditor) -> None:
        self.editor = editor
        self.page_template = string.Template(_load("region.html"))
        self.message_template = string.Template(_load("message.html"))
        self.static = {name: _load(name).encode() for name in STATIC}

    async def handle(self, request: web.Request, rest: str) -> web.StreamResponse:
        """Everything under `/region/` (`rest` is the path after it)."""
        method = request.method
        parts = rest.split("/")
        if method not in ("GET", "HEAD", "POST"):
            return self._message(rest, "That isn't something this page does.", 405)
        if len(parts) == 2 and parts[0] == "static" and method != "POST":
            return self._static(parts[1])
        if len(parts) == 1 and method == "POST":
            return await self.submit(request, parts[0])
        if len(parts) == 1:
            return await self.page(parts[0], rest)
        if len(parts) == 2 and parts[1] == "image" and method != "POST":
            return await self.image(request, parts[0], rest)
        return self._message(rest, REFUSED["invalid"], 404)

    # ---- responses ----------------------------------------------------------------------------------------

    @staticmethod
    def _headers(cache: str = "no-store") -> dict[str, str]:
        return {**HEADERS, "Cache-Control": cache}

    def _static(self, name: str) -> web.Response:
        body = self.static.get(name)
        if body is None:
            return self._message("static/x", REFUSED["invalid"], 404)
        return web.Response(body=body, content_type=STATIC[name], charset="utf-8",
                            headers=self._headers("no-cache"))

    def _message(self, rest: str, sentence: str, status: int) -> web.Response:
        depth = rest.count("/")
        text = self.message_template.substitute(
            static=html.escape(("../" * depth) + "static", quote=True),
            sentence=html.escape(plain_text(sentence)),
        )
        return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                            headers=self._headers())

    @staticmethod
    def _json(status: int, **body: Any) -> web.Response:
        return web.json_response(body, status=status, headers=RegionPages._headers())

    # ---- GET ----------------------------------------------------------------------------------------------

    async def page(self, value: str, rest: str) -> web.Response:
        try:
            opened = await self.editor.open(value)
            image = await self.editor.image(opened)
        except Refused as e:
            log.info("region editor: refused a link (%s)", e.reason)
            return self._message(rest, e.sentence, 404 if e.reason == "invalid" else 410)
        except UserError as e:
            return self._unusable(rest, e)
        width, height = mask_space(image.width, image.height)
        text = self.page_template.substitute(
            mask_width=width, mask_height=height, image_width=image.width, image_height=image.height,
            image_url=html.escape(f"{value}/image", quote=True), prompt=html.escape(opened.source.prompt),
            prompt_max=PROMPT_MAX, max_regions=MAX_AREAS, max_points=MAX_POINTS, max_total_points=MAX_TOTAL_POINTS,
        )
        return web.Response(text=text, content_type="text/html", charset="utf-8", headers=self._headers())

    def _unusable(self, rest: str, e: UserError) -> web.Response:
        """The page or image of a link that can't be shown: the job can't be varied, or its image can't be fetched
        (503: maybe in a moment) or never shown here (502: the cell picker is offered instead)."""
        page = self._message(rest, e.sentence, _status_of(e))
        if isinstance(e, ImageUnavailable):
            page.headers["Retry-After"] = RETRY_AFTER_S
        return page

    async def image(self, request: web.Request, value: str, rest: str) -> web.StreamResponse:
        try:
            opened = await self.editor.open(value)
            image = await self.editor.image(opened)
        except Refused as e:
            return self._message(rest, e.sentence, 404 if e.reason == "invalid" else 410)
        except UserError as e:
            return self._unusable(rest, e)
        headers = {**self._headers("private, max-age=900")}
        if request.method == "HEAD":
            return web.Response(content_type=image.content_type, headers=headers)
        return await self._stream(request, rest, opened, image, headers)

    async def _stream(self, request: web.Request, rest: str, opened: Opened, image: Image,
                      headers: dict[str, str]) -> web.StreamResponse:
        """The image passed on as it arrives; a transfer broken midway ends the connection (the browser then
        shows no image, rather than half of one, and the page says so)."""
        resp: web.StreamResponse | None = None
        try:
            async with self.editor.stream(opened, image) as upstream:
                resp = web.StreamResponse(headers=headers)
                resp.content_type = image.content_type
                if upstream.length is not None:
                    resp.content_length = upstream.length
                await resp.prepare(request)
                async with contextlib.aclosing(upstream.chunks()) as chunks:
                    async for chunk in chunks:
                        await resp.write(chunk)
        except (ImageUnavailable, ImageNotShown) as e:
            if resp is None:
                return self._unusable(rest, e)
            log.info("region editor: the image was cut off midway (%s)", type(e).__name__)
            if request.transport is not None:
                request.transport.close()
            return resp
        except ConnectionError:  # the browser went away (another page, a reload) while the image was on its way
            log.info("region editor: the browser left before the image had arrived")
            return resp or web.Response(status=499)
        await resp.write_eof()
        return resp

    # ---- POST ---------------------------------------------------------------------------------------------

    async def submit(self, request: web.Request, value: str) -> web.Response:
        try:
            await self.editor.open(value)  # the link first: a refused link's body is never read
        except (Refused, UserError) as e:
            return self._refused(e)
        if request.content_type != "application/json":
            return self._json(415, ok=False, error="The page must send JSON.")
        declared = request.content_length
        if declared is not None and declared > MAX_BODY:
            return self._json(413, ok=False, error=TOO_LARGE)
        try:
            raw = await read_body(request, MAX_BODY, BODY_TIMEOUT_S)
        except TimeoutError:
            log.info("region editor: a submission's body was still arriving after %s s", BODY_TIMEOUT_S)
            return self._json(408, ok=False, error="The regions took too long to arrive, so nothing was started or "
                                                   "charged; the link stays good. Send them again.")
        if raw is None:
            return self._json(413, ok=False, error=TOO_LARGE)
        try:
            body = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return self._json(400, ok=False, error="The page sent something I can't read; reload it.")
        try:
            job = await self.editor.submit(value, body)
        except (Refused, UserError, PromptError, LegnextError) as e:
            return self._refused(e)
        except Exception as e:
            log.exception("region editor: unexpected error in a submission")
            return self._json(500, ok=False, error=plain_text(user_message(e)), final=True)
        text, link = started_sentence(job)
        return self._json(200, ok=True, message=text, link=link)

    def _refused(self, e: Exception) -> web.Response:
        if isinstance(e, Refused):
            log.info("region editor: refused a submission (%s)", e.reason)
            return self._json(404 if e.reason == "invalid" else 410, ok=False, error=plain_text(e.sentence),
                              final=True)
        log.info("region editor: refused %r", e)
        # after these, submitting the page again can't help; after the others (a word, a region) it can
        final = isinstance(e, Expired | NotAllowed | NotPermitted | SubmitOutcomeUnknown | SubmittedButUnrecorded)
        return self._json(_status_of(e), ok=False, error=plain_text(user_message(e)), final=final)


async def read_body(request: web.Request, limit: int, timeout_s: float) -> bytes | None:
    """The whole body, however many pieces it arrives in; None as soon as it is longer than `limit` (the rest is
    not read); TimeoutError when it hasn't all arrived within `timeout_s`."""
    parts: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout_s):
        while True:
            part = await request.content.readany()
            if not part:  # the end of the body
                return b"".join(parts)
            size += len(part)
            if size > limit:
                return None
            parts.append(part)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _status_of(e: BaseException) -> int:
    if isinstance(e, Expired):
        return 410
    if isinstance(e, NotAllowed | NotPermitted):  # not this member (any more), or not with these roles
        return 403
    if isinstance(e, BadInput | PromptError):
        return 400
    if isinstance(e, ImageUnavailable | MemberUnchecked):
        return 503
    if isinstance(e, ImageNotShown):
        return 502
    if isinstance(e, UserError):
        return 409
    return 502
