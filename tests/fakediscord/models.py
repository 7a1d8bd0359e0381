# ruff: noqa: ASYNC109  (the public API takes ``timeout=`` arguments on purpose)
"""What the fake records and hands to tests: RecordedCall, Violation, Refusal, Fault, FakeMessage,
FakeInteraction, and the small helpers they use."""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web

from .validation import _INTERACTION_TYPES, _SELECT_TYPES, EPHEMERAL, LOADING, _flatten_errors

if TYPE_CHECKING:
    from .server import FakeDiscord


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def _json_response(obj: Any, status: int = 200) -> web.Response:
    # Content-Type must be exactly "application/json" (no charset) or discord.py returns a str.
    return web.Response(
        status=status, body=json.dumps(obj).encode("utf-8"), headers={"Content-Type": "application/json"}
    )


def _walk_components(components: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Depth-first walk over every component (action rows, containers, sections, labels...)."""
    for comp in components or []:
        yield comp
        yield from _walk_components(comp.get("components"))
        if isinstance(comp.get("component"), dict):
            yield from _walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            yield from _walk_components([comp["accessory"]])


def _emoji_str(emoji: dict[str, Any] | None) -> str | None:
    if not emoji:
        return None
    if emoji.get("id"):
        prefix = "a" if emoji.get("animated") else ""
        return f"<{prefix}:{emoji.get('name')}:{emoji['id']}>"
    return emoji.get("name")


# --------------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordedCall:
    """One REST call the bot made. ``path`` is relative to ``/api/v10`` (e.g. ``/users/@me``)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, bytes]]
    status: int = 0
    code: int = 0  # Discord error code of a 4xx/5xx answer
    message: str = ""  # error message of a 4xx/5xx answer
    injected: bool = False  # answered by an injected Fault

    def __repr__(self) -> str:
        extra = ""
        if self.status >= 400:
            extra = f" {self.code} {self.message!r}" + (" (injected)" if self.injected else "")
        return f"<{self.method} {self.path} -> {self.status}{extra}>"


class Violation(NamedTuple):
    """A request real Discord refuses as malformed (400 / 50035, 50006, 30032): a bug in the bot."""

    method: str
    path: str
    errors: dict[str, Any]  # Discord's nested ``errors`` dict ({"_errors": [...]} at the top for 50006/30032)

    def describe(self) -> str:
        return f"{self.method} {self.path}: " + "; ".join(_flatten_errors(self.errors))


class Refusal(NamedTuple):
    """A 403 (missing access/permissions) or 413 (upload too large) the fake answered."""

    method: str
    path: str
    status: int
    code: int


_DEFAULT_FAULT_MESSAGES = {
    400: "400: Bad Request",
    401: "401: Unauthorized",
    403: "Missing Permissions",
    404: "404: Not Found",
    429: "You are being rate limited.",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


@dataclass(eq=False)
class Fault:
    """An injected failure (see :meth:`FakeDiscord.inject_fault`)."""

    method: str
    path: re.Pattern[str]
    status: int | None
    code: int = 0
    message: str | None = None
    retry_after: float | None = None
    count: int | None = 1
    hold_s: float = 0.0
    global_: bool = False
    hits: int = 0
    _fake: FakeDiscord | None = field(default=None, repr=False)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def matches(self, method: str, path: str) -> bool:
        return not self.exhausted and self.method in ("*", method.upper()) and self.path.search(path) is not None

    def remove(self) -> None:
        if self._fake is not None and self in self._fake.faults:
            self._fake.faults.remove(self)

    def response(self, method: str, path: str) -> web.Response:
        status = int(self.status or 0)
        if status == 429:
            retry_after = 1.0 if self.retry_after is None else float(self.retry_after)
            body: dict[str, Any] = {
                "message": self.message or "You are being rate limited.",
                "retry_after": retry_after,
                "global": self.global_,
            }
            if self.code:
                body["code"] = self.code
            route = re.sub(r"\d{5,}", "{id}", path)
            headers = {
                "Content-Type": "application/json",
                # discord.py treats a 429 without ``Via`` as a Cloudflare ban (HTTPException, no retry)
                "Via": "1.1 google",
                "Retry-After": str(max(1, math.ceil(retry_after))),  # whole seconds, as Discord sends it
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": hashlib.md5(f"{method} {route}".encode()).hexdigest(),
                "X-RateLimit-Scope": "global" if self.global_ else "user",
            }
            if self.global_:
                headers["X-RateLimit-Global"] = "true"
            return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)
        message = self.message or _DEFAULT_FAULT_MESSAGES.get(status, f"{status}: injected fault")
        return _json_response({"message": message, "code": self.code}, status)


@dataclass(eq=False)
class FakeMessage:
    """A message the bot posted (channel message, interaction response, followup...)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: dict[str, Any]
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    # each: {"id", "filename", "size", "url", "proxy_url", "content_type", ..., "data": bytes}
    attachments: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    message_reference: dict[str, Any] | None = None
    allowed_mentions: dict[str, Any] | None = None
    tts: bool = False
    type: int = 0
    edits: int = 0
    deleted: bool = False
    webhook_id: int | None = None
    interaction_token: str | None = None  # token of the interaction this message answers, if any
    interaction_metadata: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None
    nonce: str | None = None  # the sender's nonce (with enforce_nonce, a second send with it returns this message)
    created_mono: float = field(default_factory=time.monotonic)
    created_at: str = field(default_factory=_now_iso)
    edited_at: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # snapshots before each edit
    seq: int = 0  # monotonic "last touched" counter (create/edit)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred "Bot is thinking..." message."""
        return bool(self.flags & LOADING)

    def all_components(self) -> list[dict[str, Any]]:
        return list(_walk_components(self.components))

    def buttons(self) -> list[tuple[str | None, str | None, str | None, bool]]:
        """(label, emoji, custom_id, disabled) for every button, in display order."""
        return [
            (c.get("label"), _emoji_str(c.get("emoji")), c.get("custom_id"), bool(c.get("disabled", False)))
            for c in _walk_components(self.components)
            if c.get("type") == 2
        ]

    def links(self) -> dict[str, str]:
        """label -> URL of every link button (style 5)."""
        return {c.get("label") or "": c["url"] for c in _walk_components(self.components)
                if c.get("type") == 2 and c.get("style") == 5}

    def labels(self) -> list[str]:
        """Button labels (emoji-only buttons show their emoji)."""
        return [label or emoji or "" for label, emoji, _cid, _dis in self.buttons()]

    def selects(self) -> list[dict[str, Any]]:
        return [c for c in _walk_components(self.components) if c.get("type") in _SELECT_TYPES]

    def attachment(self, filename: str) -> dict[str, Any]:
        for att in self.attachments:
            if att["filename"] == filename:
                return att
        raise AssertionError(f"no attachment {filename!r}; have {[a['filename'] for a in self.attachments]}")

    @property
    def filenames(self) -> list[str]:
        return [a["filename"] for a in self.attachments]

    def text(self) -> str:
        """Content + embed titles/descriptions/fields + text displays, for loose assertions."""
        parts = [self.content or ""]
        for e in self.embeds:
            parts += [e.get("title") or "", e.get("description") or ""]
            for f in e.get("fields") or []:
                parts += [f.get("name") or "", f.get("value") or ""]
            if e.get("footer"):
                parts.append(e["footer"].get("text") or "")
        for c in _walk_components(self.components):
            if c.get("type") == 10:
                parts.append(c.get("content") or "")
        return "\n".join(p for p in parts if p)

    def __repr__(self) -> str:
        flags = []
        if self.ephemeral:
            flags.append("ephemeral")
        if self.loading:
            flags.append("loading")
        if self.deleted:
            flags.append("deleted")
        return (
            f"<FakeMessage id={self.id} ch={self.channel_id} {' '.join(flags)} content={self.content[:60]!r} "
            f"embeds={len(self.embeds)} buttons={self.labels()} files={self.filenames} edits={self.edits}>"
        )


class FakeInteraction:
    """Handle on an interaction the test sent, and on everything the bot answered to it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: int,
        token: str,
        type: int,
        data: dict[str, Any],
        payload: dict[str, Any],
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        source_message_id: int | None = None,
        parent: FakeInteraction | None = None,
    ) -> None:
        self.fake = fake
        self.id = id
        self.token = token
        self.type = type
        self.data = data
        self.payload = payload
        self.user_id = user_id
        self.channel_id = channel_id
        self.guild_id = guild_id
        self.source_message_id = source_message_id  # message the component/modal was on
        self.parent = parent
        self.response_type: int | None = None
        self.response_data: dict[str, Any] | None = None
        self.response_files: list[tuple[str, bytes]] = []
        self.followups: list[FakeMessage] = []
        self.original_message_id: int | None = None
        self.responded = asyncio.Event()
        # time.monotonic() when the INTERACTION_CREATE was written to the gateway (token lifetimes count from it)
        self.dispatched_at: float | None = None
        self.late = False  # the bot tried its initial callback after ``fake.initial_response_s``

    @property
    def age(self) -> float:
        """Seconds since the INTERACTION_CREATE was dispatched (0 before that)."""
        return 0.0 if self.dispatched_at is None else time.monotonic() - self.dispatched_at

    # -- state ----------------------------------------------------------------------------------------
    @property
    def message(self) -> FakeMessage | None:
        """The "@original" message: the response message (types 4/5) or the edited source message (6/7)."""
        if self.original_message_id is None:
            return None
        return self.fake.messages.get(self.original_message_id)

    @property
    def source_message(self) -> FakeMessage | None:
        return None if self.source_message_id is None else self.fake.messages.get(self.source_message_id)

    @property
    def ephemeral(self) -> bool:
        """Whether the initial response is ephemeral (flag 64)."""
        msg = self.message
        if msg is not None:
            return msg.ephemeral
        return bool((self.response_data or {}).get("flags", 0) & EPHEMERAL)

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.response_data if self.response_type == 9 else None

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices (response type 8)."""
        return (self.response_data or {}).get("choices") if self.response_type == 8 else None

    def visible_messages(self) -> list[FakeMessage]:
        msgs = [m for m in [self.message, *self.followups] if m is not None and not m.deleted]
        seen: dict[int, FakeMessage] = {m.id: m for m in msgs}
        return sorted(seen.values(), key=lambda m: m.seq)

    @property
    def last_message(self) -> FakeMessage | None:
        """The most recently created/edited of: original response and followups."""
        msgs = self.visible_messages()
        return msgs[-1] if msgs else None

    @property
    def content(self) -> str | None:
        """Text of the final visible answer (most recently created/edited original response or followup)."""
        msg = self.last_message
        return None if msg is None else msg.content

    # -- waiting --------------------------------------------------------------------------------------
    async def wait_response(self, timeout: float = 10.0) -> FakeInteraction:
        """Wait until the bot sent the initial callback (any type)."""
        try:
            await asyncio.wait_for(self.responded.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"bot did not respond to interaction {self!r} within {timeout}s\n{self.fake.dump()}"
            ) from None
        return self

    async def wait_followups(self, count: int = 1, timeout: float = 10.0) -> list[FakeMessage]:
        await self.fake.wait_for(lambda: len(self.followups) >= count, timeout, what=f"{count} followup(s)")
        return self.followups

    async def wait_done(self, timeout: float = 10.0) -> FakeMessage:
        """Wait until there is a visible answer that is not a "thinking..." placeholder."""

        def check() -> FakeMessage | None:
            msg = self.last_message
            return msg if msg is not None and not msg.loading else None

        msg: FakeMessage = await self.fake.wait_for(check, timeout, what=f"final answer to {self!r}")
        return msg

    def __repr__(self) -> str:
        name = self.data.get("name") or self.data.get("custom_id")
        return (
            f"<FakeInteraction {_INTERACTION_TYPES.get(self.type, self.type)} {name!r} id={self.id} "
            f"response_type={self.response_type} followups={len(self.followups)}>"
        )
