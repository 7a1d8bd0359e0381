"""Vary (Region)'s page, served by the bot's web server under `/region/`:

- `GET /region/<token>`: the editor (plain HTML, CSS and a small script, all served from here; nothing loaded from
  elsewhere, a strict Content-Security-Policy), or a page that says why the link can't be used.
- `GET /region/<token>/image`: the upscaled image, proxied for that link only.
- `POST /region/<token>`: the regions and the prompt as JSON; answered with JSON (`ok`, `message`, `link` or
  `error`).
- `GET /region/static/<name>`: the page's script and style sheet (a fixed list, never a path from the request).
"""

from __future__ import annotations

import html
import json
import logging
import string
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.core.errors import BadInput, Expired, NotAllowed, SubmittedButUnrecorded, UserError, user_message
from bot.core.prompt import PromptError
from bot.legnext.errors import LegnextError, SubmitOutcomeUnknown
from cogs.imagine.editor import PROMPT_MAX, REFUSED, Image, ImageUnavailable, Refused, RegionEditor, started_sentence
from cogs.imagine.regions import mask_space

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # the regions of a page are a few KB; the point limits keep them far below this
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
            return await self.image(parts[0], rest)
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
            image: Image = await self.editor.image(opened)
        except Refused as e:
            log.info("region editor: refused a link (%s)", e.reason)
            return self._message(rest, e.sentence, 404 if e.reason == "invalid" else 410)
        except ImageUnavailable as e:
            return self._message(rest, e.sentence, 503)
        except UserError as e:
            return self._message(rest, e.sentence, _status_of(e))
        width, height = mask_space(image.width, image.height)
        text = self.page_template.substitute(
            mask_width=width, mask_height=height, image_width=image.width, image_height=image.height,
            image_url=html.escape(f"{value}/image", quote=True), prompt=html.escape(opened.source.prompt),
            prompt_max=PROMPT_MAX,
        )
        return web.Response(text=text, content_type="text/html", charset="utf-8", headers=self._headers())

    async def image(self, value: str, rest: str) -> web.Response:
        try:
            image = await self.editor.image(await self.editor.open(value))
        except Refused as e:
            return self._message(rest, e.sentence, 404 if e.reason == "invalid" else 410)
        except UserError as e:
            return self._message(rest, e.sentence, _status_of(e))
        return web.Response(body=image.data, content_type=image.content_type,
                            headers={**self._headers("private, max-age=900")})

    # ---- POST ---------------------------------------------------------------------------------------------

    async def submit(self, request: web.Request, value: str) -> web.Response:
        if request.content_type != "application/json":
            return self._json(415, ok=False, error="The page must send JSON.")
        declared = request.content_length
        if declared is not None and declared > MAX_BODY:
            return self._json(413, ok=False, error="That's far more than a page sends: too many regions or points.")
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return self._json(413, ok=False, error="That's far more than a page sends: too many regions or points.")
        try:
            body = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return self._json(400, ok=False, error="The page sent something I can't read; reload it.")
        try:
            job = await self.editor.submit(value, body)
        except Refused as e:
            log.info("region editor: refused a submission (%s)", e.reason)
            return self._json(404 if e.reason == "invalid" else 410, ok=False, error=plain_text(e.sentence),
                              final=True)
        except (UserError, PromptError, LegnextError) as e:
            log.info("region editor: refused %r", e)
            # after these, submitting the page again can't help; after the others (a word, a region) it can
            final = isinstance(e, Expired | NotAllowed | SubmitOutcomeUnknown | SubmittedButUnrecorded)
            return self._json(_status_of(e), ok=False, error=plain_text(user_message(e)), final=final)
        except Exception as e:
            log.exception("region editor: unexpected error in a submission")
            return self._json(500, ok=False, error=plain_text(user_message(e)), final=True)
        text, link = started_sentence(job)
        return self._json(200, ok=True, message=text, link=link)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _status_of(e: BaseException) -> int:
    if isinstance(e, Expired):
        return 410
    if isinstance(e, NotAllowed):
        return 403
    if isinstance(e, BadInput | PromptError):
        return 400
    if isinstance(e, UserError):
        return 409
    return 502
