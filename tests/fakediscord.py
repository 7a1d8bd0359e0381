# ruff: noqa: ASYNC109  (the public API takes ``timeout=`` arguments on purpose)
"""A local, in-process fake of the Discord API (REST ``/api/v10`` + gateway websocket).

The *real* discord.py client logs in to it, so tests exercise the bot exactly the way
Discord would, with no network access.  Typical use::

    async with FakeDiscord() as fake, run_bot(bot, fake):
        inter = await fake.slash("imagine", options={"prompt": "a cat"})
        await inter.wait_response()
        msg = await fake.wait_message(lambda m: "cat" in m.content)
        await fake.click(msg.id, "U1")

Notes / discord.py 2.7.1 quirks this fake relies on:

* ``discord.http.Route.BASE`` is a plain ``str`` read each time a ``Route`` is built (webhook and
  interaction-callback routes too), ``DiscordWebSocket.DEFAULT_GATEWAY`` is a ``yarl.URL``.
  A non-sharded ``Client`` never calls ``GET /gateway/bot``; it connects straight to
  ``DEFAULT_GATEWAY`` with ``?v=10&encoding=json&compress=zlib-stream`` (or ``zstd-stream``).
  Compression is only applied by discord.py to *binary* frames, so this fake always sends TEXT
  frames and ignores ``compress``.  ``patch_discord(fake)`` patches both.
* discord.py parses a JSON body only when ``Content-Type`` is exactly ``application/json``.
* The interaction callback is ``POST /interactions/{id}/{token}/callback?with_response=1`` and must
  answer ``{"interaction": {...}, "resource": {...}}``.
* After READY discord.py waits ``guild_ready_timeout`` (default 2 s!) for more GUILD_CREATEs.
  Construct the bot with ``guild_ready_timeout=0.1`` (``run_bot`` also lowers it for you).
* A 5xx makes discord.py sleep and retry, so the fake never answers 5xx: internal errors of the
  fake become a 400 and are recorded in ``FakeDiscord.errors``.
* After ``defer()`` (type 5, "thinking") the *first* followup replaces the loading message
  (same message id, keeps its ephemeral flag) -- exactly like real Discord.
* Without the ``members`` intent discord.py does not cache other members (``guild.get_member(444)``
  is None), but ``interaction.user`` is always a full ``Member`` built from the interaction payload.
  With ``members`` on, discord.py chunks at startup (op 8); the fake answers GUILD_MEMBERS_CHUNK.
* Messages the bot posts are echoed as MESSAGE_CREATE/UPDATE/DELETE when the IDENTIFY intents include
  GUILD_MESSAGES (default intents do) -- pass ``message_events=False`` to suppress.
* Validation like real Discord: empty message -> 400/50006, content > 2000, > 10 embeds, embed limits,
  > 5 action rows / > 5 buttons per row, duplicate custom_ids, modal title > 45 -> 400/50035; a
  second callback for one interaction -> 400/40060.  The bot sees ``discord.HTTPException``.
* Nothing is rate limited (no ``X-RateLimit-*`` headers), so discord.py never sleeps.

Shutdown order matters: stop the bot before the fake (``async with FakeDiscord() as fake,
run_bot(bot, fake):`` does that), otherwise the bot tries to reconnect and logs errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import hashlib
import inspect
import itertools
import json
import logging
import mimetypes
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any
from urllib.parse import quote, unquote

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

__all__ = [
    "ErrorLogCollector",
    "FakeDiscord",
    "FakeInteraction",
    "FakeMessage",
    "RecordedCall",
    "capture_error_logs",
    "patch_discord",
    "run_bot",
]

DISCORD_EPOCH_MS = 1420070400000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
COMPONENTS_V2 = 1 << 15
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12

_INTERACTION_TYPES = {1: "PING", 2: "APPLICATION_COMMAND", 3: "MESSAGE_COMPONENT", 4: "AUTOCOMPLETE", 5: "MODAL_SUBMIT"}
_OPTION_TYPES = {
    1: "SUB_COMMAND",
    2: "SUB_COMMAND_GROUP",
    3: "STRING",
    4: "INTEGER",
    5: "BOOLEAN",
    6: "USER",
    7: "CHANNEL",
    8: "ROLE",
    9: "MENTIONABLE",
    10: "NUMBER",
    11: "ATTACHMENT",
}
_SELECT_TYPES = (3, 5, 6, 7, 8)


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: int = 0, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors


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

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


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


# --------------------------------------------------------------------------------------------------
# gateway connection
# --------------------------------------------------------------------------------------------------


class _GatewayConn:
    def __init__(self, ws: web.WebSocketResponse, query: dict[str, str]) -> None:
        self.ws = ws
        self.query = query
        self.seq = 0
        self.session_id: str | None = None
        self.identified = False
        self.intents = 0
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.writer: asyncio.Task[None] | None = None

    def put(self, op: int, d: Any, t: str | None = None) -> None:
        self.queue.put_nowait({"op": op, "d": d, "t": t})

    async def run_writer(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if item is None:
                    return
                if item["op"] == 0:
                    self.seq += 1
                    item["s"] = self.seq
                else:
                    item["s"] = None
                if not self.ws.closed:
                    await self.ws.send_str(json.dumps(item))
            except (ConnectionError, RuntimeError):
                pass
            finally:
                self.queue.task_done()


# --------------------------------------------------------------------------------------------------
# the fake
# --------------------------------------------------------------------------------------------------


class FakeDiscord:
    """Fake Discord API server.  See the module docstring for usage."""

    HEARTBEAT_INTERVAL = 41250

    def __init__(
        self,
        *,
        guild_id: int = 111,
        channel_id: int = 222,
        application_id: int = 333,
        bot_user_id: int = 333,
        message_events: bool = True,
    ) -> None:
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.application_id = application_id
        self.bot_user_id = bot_user_id
        self.message_events = message_events  # send MESSAGE_CREATE/UPDATE/DELETE when intents allow
        self.url = ""
        self.port = 0
        self.token: str | None = None  # bot token seen on /users/@me

        self.calls: list[RecordedCall] = []
        self.unknown_routes: list[str] = []
        self.errors: list[str] = []  # internal errors of the fake (bugs) -> 400 answers
        self.messages: dict[int, FakeMessage] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        self.registered_commands: dict[int | None, list[dict[str, Any]]] = {}
        self.reactions: list[tuple[str, int, int, str]] = []  # (PUT|DELETE, channel_id, message_id, emoji)
        self.presence_updates: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0

        self.connected = asyncio.Event()
        self.ready_sent = asyncio.Event()
        self.identify_payload: dict[str, Any] | None = None
        self.gateway_query: dict[str, str] | None = None

        self._ids = itertools.count(1)
        self._last_snowflake = 0
        self._seq = itertools.count(1)
        self._blobs: dict[int, tuple[str, bytes, str]] = {}
        self._conns: list[_GatewayConn] = []
        self._sessions: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._user_message_ids: set[int] = set()
        self._route_table = self._routes()

        self.owner_id = 999
        self.users: dict[int, dict[str, Any]] = {}
        self.members: dict[int, dict[str, Any]] = {}  # user_id -> {"roles": [...], "permissions": int|None}
        self.roles: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, int] = {}  # user_id -> dm channel id

        perms = discord.Permissions
        everyone = perms(
            view_channel=True,
            send_messages=True,
            read_message_history=True,
            embed_links=True,
            attach_files=True,
            add_reactions=True,
            use_application_commands=True,
            use_external_emojis=True,
            create_instant_invite=True,
            change_nickname=True,
            connect=True,
            speak=True,
        )
        self.roles[guild_id] = self._role_payload(guild_id, "@everyone", everyone.value, 0)
        self.bot_role_id = self.add_role("FakeBot", permissions=perms(administrator=True).value, managed=True)
        self.add_user(self.owner_id, "owner")
        self.add_user(bot_user_id, "fakebot", bot=True)
        self.members[bot_user_id] = {"roles": [self.bot_role_id], "permissions": None}
        self.add_member(444, "alice")
        self.add_member(555, "bob")
        self.add_channel(channel_id, "general")

    # ============================================================================ lifecycle ==========
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle_api)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_get("/attachments/{aid}/{filename}", self._handle_attachment)
        app.router.add_route("*", "/{tail:.*}", self._handle_other)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        for conn in list(self._conns):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
            if conn.writer is not None:
                conn.writer.cancel()
                with contextlib.suppress(BaseException):
                    await conn.writer
        self._conns.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ============================================================================ ids ================
    def snowflake(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = max((ms << 22) | (next(self._ids) & 0xFFF), self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    # ============================================================================ entities ===========
    def _role_payload(
        self, role_id: int, name: str, permissions: int, position: int, managed: bool = False
    ) -> dict[str, Any]:
        return {
            "id": str(role_id),
            "name": name,
            "permissions": str(permissions),
            "position": position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
            "tags": {"bot_id": str(self.bot_user_id)} if managed else {},
        }

    def add_user(self, user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": None if bot else name.capitalize(),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "primary_guild": None,
        }
        if bot:
            user.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
        self.users[user_id] = user
        return user

    def add_role(
        self,
        name: str,
        *,
        permissions: int | discord.Permissions = 0,
        role_id: int | None = None,
        managed: bool = False,
    ) -> int:
        """Create a guild role; returns its id. Sent as GUILD_ROLE_CREATE if the bot is connected."""
        role_id = role_id or self.snowflake()
        perms = permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)
        self.roles[role_id] = payload = self._role_payload(role_id, name, perms, len(self.roles), managed)
        self._broadcast("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": payload})
        return role_id

    def add_member(
        self,
        user_id: int,
        name: str,
        roles: list[int] | tuple[int, ...] = (),
        permissions: int | discord.Permissions | None = None,
    ) -> dict[str, Any]:
        """Add (or replace) a guild member.  ``permissions`` overrides the permissions computed from roles
        in interaction payloads (``member.permissions``).  Sent as GUILD_MEMBER_ADD if connected."""
        existed = user_id in self.members
        if user_id not in self.users:
            self.add_user(user_id, name)
        if isinstance(permissions, discord.Permissions):
            permissions = permissions.value
        self.members[user_id] = {"roles": list(roles), "permissions": permissions}
        event = "GUILD_MEMBER_UPDATE" if existed else "GUILD_MEMBER_ADD"
        self._broadcast(event, {**self.member_payload(user_id), "guild_id": str(self.guild_id)})
        return self.members[user_id]

    def set_member_roles(self, user_id: int, roles: list[int]) -> None:
        self.members[user_id]["roles"] = list(roles)
        self._broadcast("GUILD_MEMBER_UPDATE", {**self.member_payload(user_id), "guild_id": str(self.guild_id)})

    def add_channel(self, channel_id: int, name: str, *, type: int = 0) -> dict[str, Any]:
        payload = {
            "id": str(channel_id),
            "type": type,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        self.channels[channel_id] = payload
        self._broadcast("CHANNEL_CREATE", payload)
        return payload

    def dm_channel_id(self, user_id: int) -> int:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = self.snowflake()
        return self.dm_channels[user_id]

    def _dm_channel_payload(self, user_id: int) -> dict[str, Any]:
        return {
            "id": str(self.dm_channel_id(user_id)),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self.users[user_id]],
        }

    def member_permissions(self, user_id: int) -> int:
        member = self.members[user_id]
        if member.get("permissions") is not None:
            return int(member["permissions"])
        if user_id == self.owner_id:
            return discord.Permissions.all().value
        value = int(self.roles[self.guild_id]["permissions"])
        for rid in member["roles"]:
            value |= int(self.roles[rid]["permissions"])
        if value & discord.Permissions(administrator=True).value:
            return discord.Permissions.all().value
        return value

    def member_payload(self, user_id: int, *, with_permissions: bool = False) -> dict[str, Any]:
        member = self.members[user_id]
        payload = {
            "user": self.users[user_id],
            "roles": [str(r) for r in member["roles"]],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if with_permissions:
            payload["permissions"] = str(self.member_permissions(user_id))
        return payload

    def guild_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.guild_id),
            "name": "Fake Guild",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "max_members": 500000,
            "max_video_channel_users": 25,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }

    def _guild_create_payload(self) -> dict[str, Any]:
        payload = self.guild_payload()
        payload.update(
            {
                "unavailable": False,
                "large": False,
                "member_count": len(self.members),
                "joined_at": "2024-01-01T00:00:00+00:00",
                "channels": list(self.channels.values()),
                "threads": [],
                "members": [self.member_payload(uid) for uid in self.members],
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return payload

    @property
    def bot_user(self) -> dict[str, Any]:
        return self.users[self.bot_user_id]

    # ============================================================================ querying ===========
    def calls_to(self, method: str, path_regex: str) -> list[RecordedCall]:
        """REST calls with this method whose path matches ``path_regex`` (``re.search``)."""
        rx = re.compile(path_regex)
        return [c for c in self.calls if c.method == method.upper() and rx.search(c.path)]

    def channel_messages(
        self, channel_id: int | None = None, *, include_ephemeral: bool = True, include_deleted: bool = False
    ) -> list[FakeMessage]:
        """Messages in a channel, oldest first.  Includes ephemeral interaction replies by default."""
        cid = self.channel_id if channel_id is None else channel_id
        return sorted(
            (
                m
                for m in self.messages.values()
                if m.channel_id == cid and (include_deleted or not m.deleted) and (include_ephemeral or not m.ephemeral)
            ),
            key=lambda m: m.id,
        )

    def attachment_bytes(self, url: str) -> bytes:
        """Bytes behind an attachment URL served by this fake."""
        m = re.search(r"/attachments/(\d+)/", url)
        if not m or int(m.group(1)) not in self._blobs:
            raise AssertionError(f"unknown attachment url {url}")
        return self._blobs[int(m.group(1))][1]

    def assert_clean(self) -> None:
        """Fail if the bot hit routes the fake does not implement or the fake itself crashed."""
        assert not self.unknown_routes, f"unknown routes hit: {self.unknown_routes}"
        assert not self.errors, "fake discord internal errors:\n" + "\n".join(self.errors)

    def dump(self) -> str:
        lines = ["--- fake discord state ---", "messages:"]
        for m in sorted(self.messages.values(), key=lambda m: m.id)[-20:]:
            lines.append(f"  {m!r}")
        lines.append("interactions:")
        for inter in list(self.interactions.values())[-10:]:
            lines.append(f"  {inter!r}")
        lines.append("last calls:")
        for c in self.calls[-15:]:
            lines.append(f"  {c!r}")
        if self.unknown_routes:
            lines.append(f"unknown routes: {self.unknown_routes}")
        if self.errors:
            lines.append("errors:\n" + "\n".join(self.errors))
        return "\n".join(lines)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, *, what: str = "") -> Any:
        """Poll ``predicate`` (sync or async) until it returns something truthy; return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            if time.monotonic() >= deadline:
                desc = what or getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(f"timed out after {timeout}s waiting for {desc}\n{self.dump()}")
            await asyncio.sleep(0.01)

    async def wait_message(
        self, predicate: Callable[[FakeMessage], bool], timeout: float = 10.0, *, channel_id: int | None = None
    ) -> FakeMessage:
        """Wait for a (non-deleted) message matching ``predicate``; newest match wins."""

        def check() -> FakeMessage | None:
            for m in sorted(self.messages.values(), key=lambda m: m.id, reverse=True):
                if m.deleted or (channel_id is not None and m.channel_id != channel_id):
                    continue
                if predicate(m):
                    return m
            return None

        msg: FakeMessage = await self.wait_for(check, timeout, what="a matching message")
        return msg

    # ============================================================================ gateway ============
    def _live_conns(self) -> list[_GatewayConn]:
        return [c for c in self._conns if c.identified and not c.ws.closed]

    def _broadcast(self, event: str, data: dict[str, Any], *, intent: int | None = None) -> None:
        for conn in self._live_conns():
            if intent is None or conn.intents & intent:
                conn.put(0, data, event)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an arbitrary DISPATCH to every connected bot and wait until it was written."""
        conns = self._live_conns()
        if not conns:
            raise AssertionError(f"cannot dispatch {event}: no bot is connected to the fake gateway")
        for conn in conns:
            conn.put(0, data, event)
        await asyncio.gather(*(c.queue.join() for c in conns))

    async def disconnect_all(self, code: int = 4000) -> None:
        """Close all gateway connections (4000 -> discord.py reconnects and RESUMEs)."""
        old = list(self._conns)
        for conn in old:
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code)
        await self.wait_for(lambda: not any(c in self._conns for c in old), 5.0, what="gateway close")
        self.connected.clear()

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, compress=False)
        await ws.prepare(request)
        conn = _GatewayConn(ws, dict(request.query))
        self.gateway_query = dict(request.query)
        conn.writer = asyncio.create_task(conn.run_writer(), name="fakediscord-gateway-writer")
        self._conns.append(conn)
        conn.put(10, {"heartbeat_interval": self.HEARTBEAT_INTERVAL, "_trace": ["fake-gateway"]})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                except Exception as exc:  # pragma: no cover - bug in the fake
                    self.errors.append(f"gateway: {exc!r}")
        finally:
            conn.identified = False
            conn.queue.put_nowait(None)
            if conn in self._conns:
                self._conns.remove(conn)
            if not self._live_conns():
                self.connected.clear()
        return ws

    async def _on_gateway_message(self, conn: _GatewayConn, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        d: Any = msg.get("d") or {}
        if op == 1:  # heartbeat
            conn.put(11, None)
        elif op == 2:  # identify
            self.identify_payload = d
            self.identify_count += 1
            self.token = self.token or d.get("token")
            conn.intents = int(d.get("intents") or 0)
            conn.session_id = secrets.token_hex(16)
            self._sessions.add(conn.session_id)
            conn.identified = True
            ready = {
                "v": 10,
                "user": self.bot_user,
                "session_id": conn.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "guild_join_requests": [],
                "user_settings": {},
                "auth_session_id_hash": "fake",
                "_trace": ["fake-gateway"],
            }
            if d.get("shard"):
                ready["shard"] = d["shard"]
            conn.put(0, ready, "READY")
            conn.put(0, self._guild_create_payload(), "GUILD_CREATE")
            await conn.queue.join()
            self.ready_sent.set()
            self.connected.set()
        elif op == 6:  # resume
            if d.get("session_id") in self._sessions:
                self.resume_count += 1
                conn.session_id = d["session_id"]
                conn.identified = True
                conn.seq = int(d.get("seq") or 0)
                conn.intents = int((self.identify_payload or {}).get("intents") or 0)
                conn.put(0, {"_trace": ["fake-gateway"]}, "RESUMED")
                await conn.queue.join()
                self.connected.set()
            else:
                conn.put(9, False)
        elif op == 3:  # presence update
            self.presence_updates.append(d)
        elif op == 8:  # request guild members
            members = [self.member_payload(uid) for uid in self.members]
            query = (d.get("query") or "").lower()
            if query:
                members = [m for m in members if m["user"]["username"].lower().startswith(query)]
            if d.get("user_ids"):
                wanted = {str(u) for u in d["user_ids"]} if isinstance(d["user_ids"], list) else {str(d["user_ids"])}
                members = [m for m in members if m["user"]["id"] in wanted]
            chunk: dict[str, Any] = {
                "guild_id": str(d.get("guild_id")),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if d.get("nonce") is not None:
                chunk["nonce"] = d["nonce"]
            if d.get("presences"):
                chunk["presences"] = []
            conn.put(0, chunk, "GUILD_MEMBERS_CHUNK")
        # other ops (voice state update, ...) are ignored

    # ============================================================================ REST plumbing ======
    async def _handle_other(self, request: web.Request) -> web.Response:
        self.unknown_routes.append(f"{request.method} {request.path}")
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    async def _handle_attachment(self, request: web.Request) -> web.Response:
        aid = int(request.match_info["aid"])
        blob = self._blobs.get(aid)
        if blob is None or blob[0] != unquote(request.match_info["filename"]):
            return web.Response(status=404, text="Not Found")
        return web.Response(body=blob[1], headers={"Content-Type": blob[2]})

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        ctype = request.headers.get("Content-Type", "")
        files: list[tuple[int, str, bytes]] = []
        body: Any = None
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                name = part.name or ""  # type: ignore[union-attr]
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    body = json.loads(data.decode("utf-8"))
                else:
                    m = re.fullmatch(r"files\[(\d+)\]|file(\d*)", name)
                    index = int(next((g for g in m.groups() if g), len(files))) if m else len(files)
                    files.append((index, part.filename or name, bytes(data)))  # type: ignore[union-attr]
        else:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
        files.sort(key=lambda f: f[0])
        return body, [(fn, data) for _i, fn, data in files]

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        app = r"(?P<app>\d+)"
        token = r"(?P<token>[^/]+)"
        table: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", r"/users/@me", self._r_get_me),
            ("GET", r"/users/(?P<uid>\d+)", self._r_get_user),
            ("POST", r"/users/@me/channels", self._r_create_dm),
            ("GET", r"/gateway", self._r_gateway),
            ("GET", r"/gateway/bot", self._r_gateway_bot),
            ("GET", r"/oauth2/applications/@me", self._r_app_info),
            ("GET", r"/applications/@me", self._r_app_info),
            ("GET", rf"/applications/{app}/commands", self._r_get_commands),
            ("PUT", rf"/applications/{app}/commands", self._r_put_commands),
            ("POST", rf"/applications/{app}/commands", self._r_post_command),
            ("DELETE", rf"/applications/{app}/commands/(?P<cid>\d+)", self._r_delete_command),
            ("GET", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._r_get_commands),
            ("PUT", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._r_put_commands),
            ("POST", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands", self._r_post_command),
            ("DELETE", rf"/applications/{app}/guilds/(?P<gid>\d+)/commands/(?P<cid>\d+)", self._r_delete_command),
            ("POST", rf"/interactions/(?P<iid>\d+)/{token}/callback", self._r_callback),
            ("GET", rf"/webhooks/{app}/{token}/messages/(?P<mid>@original|\d+)", self._r_wh_get),
            ("PATCH", rf"/webhooks/{app}/{token}/messages/(?P<mid>@original|\d+)", self._r_wh_edit),
            ("DELETE", rf"/webhooks/{app}/{token}/messages/(?P<mid>@original|\d+)", self._r_wh_delete),
            ("POST", rf"/webhooks/{app}/{token}", self._r_wh_followup),
            ("GET", r"/channels/(?P<cid>\d+)", self._r_get_channel),
            ("GET", r"/channels/(?P<cid>\d+)/messages", self._r_history),
            ("POST", r"/channels/(?P<cid>\d+)/messages", self._r_send),
            ("GET", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._r_get_message),
            ("PATCH", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._r_edit_message),
            ("DELETE", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._r_delete_message),
            ("POST", r"/channels/(?P<cid>\d+)/typing", self._r_no_content),
            ("PUT", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/reactions/(?P<emoji>[^/]+)/@me", self._r_react),
            (
                "DELETE",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/reactions/(?P<emoji>[^/]+)/@me",
                self._r_react,
            ),
            ("GET", r"/guilds/(?P<gid>\d+)", self._r_get_guild),
            ("GET", r"/guilds/(?P<gid>\d+)/channels", self._r_guild_channels),
            ("GET", r"/guilds/(?P<gid>\d+)/roles", self._r_guild_roles),
            ("GET", r"/guilds/(?P<gid>\d+)/members/(?P<uid>\d+)", self._r_get_member),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    async def _handle_api(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        query = dict(request.query)
        try:
            body, files = await self._read_body(request)
        except Exception as exc:
            self.errors.append(f"{request.method} {path}: cannot parse body: {exc!r}")
            body, files = None, []
        call = RecordedCall(request.method, path, query, body, files)
        self.calls.append(call)
        for method, rx, route_handler in self._route_table:
            m = rx.fullmatch(path)
            if m and method == request.method:
                handler = route_handler
                break
        else:
            self.unknown_routes.append(f"{request.method} {path}")
            call.status = 404
            return _json_response({"message": "404: Not Found", "code": 0}, 404)
        try:
            result = handler(request=request, body=body, files=files, query=query, **m.groupdict())
            if inspect.isawaitable(result):
                result = await result
        except _HTTPError as err:
            call.status = err.status
            payload: dict[str, Any] = {"message": err.message, "code": err.code}
            if err.errors:
                payload["errors"] = err.errors
            return _json_response(payload, err.status)
        except Exception as exc:
            import traceback

            self.errors.append(f"{request.method} {path}: {exc!r}\n{traceback.format_exc()}")
            call.status = 400
            return _json_response({"message": f"fake discord internal error: {exc!r}", "code": 0}, 400)
        if result is None:
            call.status = 204
            return web.Response(status=204)
        call.status = 200
        return _json_response(result)

    # ============================================================================ message model ======
    def _blob_url(self, aid: int, filename: str) -> str:
        now = int(time.time())
        sig = hashlib.sha256(f"{aid}{filename}{now}".encode()).hexdigest()
        return f"{self.url}/attachments/{aid}/{quote(filename)}?ex={now + 86400:x}&is={now:x}&hm={sig}&"

    def store_blob(
        self, filename: str, data: bytes, content_type: str | None = None, *, ephemeral: bool = False
    ) -> dict[str, Any]:
        """Store bytes and return a Discord attachment object (plus a ``data`` key with the bytes)."""
        aid = self.snowflake()
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self._blobs[aid] = (filename, bytes(data), ctype)
        url = self._blob_url(aid, filename)
        att: dict[str, Any] = {
            "id": str(aid),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": ctype,
            "data": bytes(data),
        }
        if ctype.startswith("image/"):
            att.update(width=128, height=128)
        if ephemeral:
            att["ephemeral"] = True
        return att

    def message_payload(self, msg: FakeMessage) -> dict[str, Any]:
        atts = [{k: v for k, v in a.items() if k != "data"} for a in msg.attachments]
        by_name = {a["filename"]: a for a in atts}

        def fix_url(obj: Any) -> Any:
            if isinstance(obj, dict):
                out = {k: fix_url(v) for k, v in obj.items()}
                url = out.get("url")
                if isinstance(url, str) and url.startswith("attachment://"):
                    att = by_name.get(url[len("attachment://") :])
                    if att is not None:
                        out["url"] = att["url"]
                        out["proxy_url"] = att["proxy_url"]
                return out
            if isinstance(obj, list):
                return [fix_url(v) for v in obj]
            return obj

        payload: dict[str, Any] = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "author": msg.author,
            "content": msg.content or "",
            "timestamp": msg.created_at,
            "edited_timestamp": msg.edited_at,
            "tts": msg.tts,
            "mention_everyone": False,
            "mentions": self._mentions(msg),
            "mention_roles": [],
            "attachments": atts,
            "embeds": fix_url(msg.embeds),
            "components": fix_url(msg.components),
            "pinned": False,
            "type": msg.type,
            "flags": msg.flags,
        }
        if msg.guild_id is not None:
            payload["guild_id"] = str(msg.guild_id)
        if msg.webhook_id is not None:
            payload["webhook_id"] = str(msg.webhook_id)
            payload["application_id"] = str(self.application_id)
        if msg.message_reference:
            payload["message_reference"] = msg.message_reference
            ref_id = msg.message_reference.get("message_id")
            ref = self.messages.get(int(ref_id)) if ref_id else None
            if ref is not None and ref is not msg and not ref.deleted:
                payload["referenced_message"] = self.message_payload(ref)
        if msg.interaction_metadata:
            payload["interaction_metadata"] = msg.interaction_metadata
        if msg.poll:
            payload["poll"] = msg.poll
        return payload

    def _mentions(self, msg: FakeMessage) -> list[dict[str, Any]]:
        allowed = msg.allowed_mentions
        ids = [int(x) for x in re.findall(r"<@!?(\d+)>", msg.content or "")]
        if allowed is not None:
            parse = allowed.get("parse") or []
            explicit = {int(u) for u in allowed.get("users") or []}
            ids = [i for i in ids if "users" in parse or i in explicit]
        return [self.users[i] for i in dict.fromkeys(ids) if i in self.users]

    def _validate_message(self, body: dict[str, Any], files: list[tuple[str, bytes]], *, create: bool) -> None:
        errors: dict[str, Any] = {}
        content = body.get("content")
        if content is not None and len(str(content)) > 2000:
            errors["content"] = "Must be 2000 or fewer in length."
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            errors["embeds"] = "Must be 10 or fewer in length."
        total = 0
        for i, e in enumerate(embeds):
            limits = {"title": 256, "description": 4096}
            for key, lim in limits.items():
                val = e.get(key) or ""
                total += len(val)
                if len(val) > lim:
                    errors[f"embeds.{i}.{key}"] = f"Must be {lim} or fewer in length."
            fields = e.get("fields") or []
            if len(fields) > 25:
                errors[f"embeds.{i}.fields"] = "Must be 25 or fewer in length."
            for j, f in enumerate(fields):
                if len(f.get("name") or "") > 256 or len(f.get("value") or "") > 1024:
                    errors[f"embeds.{i}.fields.{j}"] = "Field name/value too long."
                if not f.get("name") or not f.get("value"):
                    errors[f"embeds.{i}.fields.{j}"] = "Field name and value are required."
                total += len(f.get("name") or "") + len(f.get("value") or "")
            total += len((e.get("footer") or {}).get("text") or "") + len((e.get("author") or {}).get("name") or "")
        if total > 6000:
            errors["embeds"] = "Embed size exceeds maximum size of 6000"
        components = body.get("components") or []
        flags = int(body.get("flags") or 0)
        if not flags & COMPONENTS_V2 and len(components) > 5:
            errors["components"] = "Must be 5 or fewer in length."
        custom_ids: list[str] = []
        for c in _walk_components(components):
            if c.get("type") == 1 and len(c.get("components") or []) > 5:
                errors["components"] = "An action row holds at most 5 components."
            if c.get("custom_id") is not None:
                custom_ids.append(c["custom_id"])
                if len(c["custom_id"]) > 100:
                    errors["components.custom_id"] = "Must be 100 or fewer in length."
            if c.get("type") == 2 and len(c.get("label") or "") > 80:
                errors["components.label"] = "Must be 80 or fewer in length."
            if c.get("type") == 3 and not 1 <= len(c.get("options") or []) <= 25:
                errors["components.options"] = "A select needs 1..25 options."
        if len(custom_ids) != len(set(custom_ids)):
            errors["components"] = "Component custom id cannot be duplicated"
        if errors:
            raise _HTTPError(400, "Invalid Form Body", 50035, errors)
        if create and not (
            content
            or embeds
            or components
            or files
            or body.get("attachments")
            or body.get("poll")
            or body.get("sticker_ids")
        ):
            raise _HTTPError(400, "Cannot send an empty message", 50006)

    def _resolve_attachments(
        self, existing: list[dict[str, Any]], body: dict[str, Any], files: list[tuple[str, bytes]]
    ) -> list[dict[str, Any]]:
        uploaded = [self.store_blob(fn, data) for fn, data in files]
        spec = body.get("attachments")
        if spec is None:
            return [*existing, *uploaded]
        by_id = {str(a["id"]): a for a in existing}
        result: list[dict[str, Any]] = []
        used: set[int] = set()
        for entry in spec:
            key = str(entry.get("id"))
            if key in by_id:
                result.append(by_id[key])
            elif key.isdigit() and int(key) < len(uploaded):
                att = uploaded[int(key)]
                if entry.get("description"):
                    att["description"] = entry["description"]
                if entry.get("filename") and entry["filename"] != att["filename"]:
                    att["title"] = entry["filename"]
                result.append(att)
                used.add(int(key))
        result += [a for i, a in enumerate(uploaded) if i not in used]
        return result

    def _touch(self, msg: FakeMessage) -> None:
        msg.seq = next(self._seq)

    def _assign_component_ids(self, components: list[dict[str, Any]]) -> list[dict[str, Any]]:
        components = json.loads(json.dumps(components))
        used = {c["id"] for c in _walk_components(components) if isinstance(c.get("id"), int)}
        counter = itertools.count(1)
        for c in _walk_components(components):
            if c.get("id") is None:
                nid = next(counter)
                while nid in used:
                    nid = next(counter)
                c["id"] = nid
                used.add(nid)
        return components

    def _create_message(
        self,
        *,
        channel_id: int,
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        interaction: FakeInteraction | None = None,
        extra_flags: int = 0,
        validate: bool = True,
    ) -> FakeMessage:
        if validate:
            self._validate_message(body, files, create=True)
        guild_id = self.guild_id if channel_id in self.channels else None
        if interaction is not None:
            guild_id = interaction.guild_id
        flags = (int(body.get("flags") or 0) & ~LOADING) | extra_flags
        msg = FakeMessage(
            id=self.snowflake(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=self.bot_user,
            content=body.get("content") or "",
            embeds=list(body.get("embeds") or []),
            components=self._assign_component_ids(body.get("components") or []),
            flags=flags,
            message_reference=body.get("message_reference"),
            allowed_mentions=body.get("allowed_mentions"),
            tts=bool(body.get("tts")),
            poll=body.get("poll"),
        )
        msg.attachments = self._resolve_attachments([], body, files)
        if interaction is not None:
            msg.webhook_id = self.application_id
            msg.interaction_token = interaction.token
            meta: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.users.get(interaction.user_id, {"id": str(interaction.user_id)}),
                "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {}),
            }
            if interaction.type == 2:
                meta["name"] = interaction.data.get("name")
                msg.type = 20
            elif interaction.source_message_id is not None:
                meta["interacted_message_id"] = str(interaction.source_message_id)
                msg.type = 19 if interaction.type == 3 else 0
            msg.interaction_metadata = meta
        self._touch(msg)
        self.messages[msg.id] = msg
        if msg.channel_id in self.channels:
            self.channels[msg.channel_id]["last_message_id"] = str(msg.id)
        self._message_event("MESSAGE_CREATE", msg)
        return msg

    def _apply_edit(self, msg: FakeMessage, body: dict[str, Any], files: list[tuple[str, bytes]]) -> None:
        if msg.deleted:
            raise _HTTPError(404, "Unknown Message", 10008)
        body = body or {}
        merged = {
            "content": body.get("content", msg.content),
            "embeds": body.get("embeds", msg.embeds),
            "components": body.get("components", msg.components),
            "flags": body.get("flags", msg.flags),
        }
        self._validate_message(merged, files, create=False)
        msg.history.append(self.message_payload(msg))
        if "content" in body:
            msg.content = body["content"] or ""
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = self._assign_component_ids(body["components"] or [])
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if body.get("flags") is not None:
            keep = msg.flags & (EPHEMERAL | COMPONENTS_V2)
            msg.flags = keep | (int(body["flags"]) & (SUPPRESS_EMBEDS | COMPONENTS_V2))
        if "attachments" in body or files:
            msg.attachments = self._resolve_attachments(msg.attachments, body, files)
        msg.flags &= ~LOADING
        if not msg.loading and not (msg.content or msg.embeds or msg.components or msg.attachments or msg.poll):
            raise _HTTPError(400, "Cannot send an empty message", 50006)
        msg.edits += 1
        msg.edited_at = _now_iso()
        self._touch(msg)
        self._message_event("MESSAGE_UPDATE", msg)

    def _delete(self, msg: FakeMessage) -> None:
        if msg.deleted:
            raise _HTTPError(404, "Unknown Message", 10008)
        msg.deleted = True
        if self.message_events and not msg.ephemeral:
            data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
            self._broadcast("MESSAGE_DELETE", data, intent=self._intent_for(msg))

    def _intent_for(self, msg: FakeMessage) -> int:
        return INTENT_GUILD_MESSAGES if msg.guild_id is not None else INTENT_DIRECT_MESSAGES

    def _message_event(self, event: str, msg: FakeMessage) -> None:
        if not self.message_events or msg.ephemeral or (msg.loading and event == "MESSAGE_CREATE"):
            return
        data = self.message_payload(msg)
        if msg.guild_id is not None and msg.webhook_id is None:
            member = self.member_payload(self.bot_user_id)
            member.pop("user")
            data["member"] = member
        self._broadcast(event, data, intent=self._intent_for(msg))

    def _get_msg(self, mid: int | str, channel_id: int | str | None = None) -> FakeMessage:
        msg = self.messages.get(int(mid))
        if msg is None or msg.deleted or (channel_id is not None and msg.channel_id != int(channel_id)):
            raise _HTTPError(404, "Unknown Message", 10008)
        return msg

    # ============================================================================ REST handlers ======
    def _r_no_content(self, **_: Any) -> None:
        return None

    def _r_get_me(self, request: web.Request, **_: Any) -> dict[str, Any]:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bot "):
            raise _HTTPError(401, "401: Unauthorized", 0)
        self.token = auth[4:]
        return self.bot_user

    def _r_get_user(self, uid: str, **_: Any) -> dict[str, Any]:
        user = self.users.get(int(uid))
        if user is None:
            raise _HTTPError(404, "Unknown User", 10013)
        return user

    def _r_create_dm(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        uid = int(body["recipient_id"])
        if uid not in self.users:
            raise _HTTPError(404, "Unknown User", 10013)
        return self._dm_channel_payload(uid)

    def _r_gateway(self, **_: Any) -> dict[str, Any]:
        return {"url": self.gateway_url}

    def _r_gateway_bot(self, **_: Any) -> dict[str, Any]:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }

    def _r_app_info(self, **_: Any) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": "FakeBot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.users[self.owner_id],
            "team": None,
            "flags": 0,
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
            "bot": self.bot_user,
        }

    def _check_app(self, app: str) -> None:
        if int(app) != self.application_id:
            raise _HTTPError(404, "Unknown Application", 10002)

    def _r_get_commands(self, app: str, gid: str | None = None, **_: Any) -> list[dict[str, Any]]:
        self._check_app(app)
        return self.registered_commands.get(int(gid) if gid else None, [])

    def _normalize_command(self, cmd: dict[str, Any], gid: int | None) -> dict[str, Any]:
        ctype = int(cmd.get("type") or 1)
        key = (gid, cmd["name"], ctype)
        if key not in self._command_ids:
            self._command_ids[key] = self.snowflake()
        out = {
            "id": str(self._command_ids[key]),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
            "default_member_permissions": None,
            "type": ctype,
            "name": cmd["name"],
            "description": cmd.get("description", ""),
            "options": cmd.get("options") or [],
            "nsfw": bool(cmd.get("nsfw", False)),
            "dm_permission": cmd.get("dm_permission", True),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
        }
        for k, v in cmd.items():
            if k not in ("id", "application_id", "version", "options", "type"):
                out[k] = v
        if gid is not None:
            out["guild_id"] = str(gid)
        return out

    def _r_put_commands(
        self, app: str, body: list[dict[str, Any]], gid: str | None = None, **_: Any
    ) -> list[dict[str, Any]]:
        self._check_app(app)
        g = int(gid) if gid else None
        if g is not None and g != self.guild_id:
            raise _HTTPError(403, "Missing Access", 50001)
        names = [(c["name"], int(c.get("type") or 1)) for c in body]
        if len(names) != len(set(names)):
            raise _HTTPError(400, "Invalid Form Body (duplicate command name)", 50035)
        self.registered_commands[g] = [self._normalize_command(c, g) for c in body]
        return self.registered_commands[g]

    def _r_post_command(self, app: str, body: dict[str, Any], gid: str | None = None, **_: Any) -> dict[str, Any]:
        self._check_app(app)
        g = int(gid) if gid else None
        cmd = self._normalize_command(body, g)
        existing = [c for c in self.registered_commands.get(g, []) if c["id"] != cmd["id"]]
        self.registered_commands[g] = [*existing, cmd]
        return cmd

    def _r_delete_command(self, app: str, cid: str, gid: str | None = None, **_: Any) -> None:
        self._check_app(app)
        g = int(gid) if gid else None
        self.registered_commands[g] = [c for c in self.registered_commands.get(g, []) if c["id"] != cid]

    def _r_get_channel(self, cid: str, **_: Any) -> dict[str, Any]:
        c = int(cid)
        if c in self.channels:
            return self.channels[c]
        for uid, dm in self.dm_channels.items():
            if dm == c:
                return self._dm_channel_payload(uid)
        raise _HTTPError(404, "Unknown Channel", 10003)

    def _r_history(self, cid: str, query: dict[str, str], **_: Any) -> list[dict[str, Any]]:
        limit = int(query.get("limit", 50))
        msgs = [m for m in self.channel_messages(int(cid), include_ephemeral=False)]
        if "before" in query:
            msgs = [m for m in msgs if m.id < int(query["before"])]
        if "after" in query:
            msgs = [m for m in msgs if m.id > int(query["after"])][:limit]
        else:
            msgs = msgs[-limit:]
        return [self.message_payload(m) for m in reversed(msgs)]

    def _channel_exists(self, cid: int) -> None:
        if cid not in self.channels and cid not in self.dm_channels.values():
            raise _HTTPError(404, "Unknown Channel", 10003)

    def _r_send(
        self, cid: str, body: dict[str, Any] | None, files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        self._channel_exists(int(cid))
        body = body or {}
        ref = body.get("message_reference")
        if ref and ref.get("fail_if_not_exists", True) and ref.get("message_id"):
            ref_msg = self.messages.get(int(ref["message_id"]))
            if ref_msg is None and int(ref["message_id"]) not in self._user_message_ids:
                raise _HTTPError(400, "Invalid Form Body (Unknown message)", 50035)
        msg = self._create_message(channel_id=int(cid), body=body, files=files)
        return self.message_payload(msg)

    def _r_get_message(self, cid: str, mid: str, **_: Any) -> dict[str, Any]:
        msg = self._get_msg(mid, cid)
        if msg.ephemeral:
            raise _HTTPError(404, "Unknown Message", 10008)
        return self.message_payload(msg)

    def _r_edit_message(
        self, cid: str, mid: str, body: dict[str, Any], files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        msg = self._get_msg(mid, cid)
        if msg.ephemeral:
            raise _HTTPError(404, "Unknown Message", 10008)
        self._apply_edit(msg, body, files)
        return self.message_payload(msg)

    def _r_delete_message(self, cid: str, mid: str, **_: Any) -> None:
        msg = self._get_msg(mid, cid)
        if msg.ephemeral:
            raise _HTTPError(404, "Unknown Message", 10008)
        self._delete(msg)

    def _r_react(self, request: web.Request, cid: str, mid: str, emoji: str, **_: Any) -> None:
        self.reactions.append((request.method, int(cid), int(mid), unquote(emoji)))

    def _r_get_guild(self, gid: str, **_: Any) -> dict[str, Any]:
        if int(gid) != self.guild_id:
            raise _HTTPError(404, "Unknown Guild", 10004)
        payload = self.guild_payload()
        payload["approximate_member_count"] = len(self.members)
        return payload

    def _r_guild_channels(self, gid: str, **_: Any) -> list[dict[str, Any]]:
        return list(self.channels.values())

    def _r_guild_roles(self, gid: str, **_: Any) -> list[dict[str, Any]]:
        return list(self.roles.values())

    def _r_get_member(self, gid: str, uid: str, **_: Any) -> dict[str, Any]:
        if int(gid) != self.guild_id or int(uid) not in self.members:
            raise _HTTPError(404, "Unknown Member", 10007)
        return self.member_payload(int(uid))

    # ------------------------------------------------------------------ interactions (REST side) ------
    def _inter(self, token: str, app: str | None = None) -> FakeInteraction:
        if app is not None:
            self._check_app(app)
        inter = self.interactions.get(unquote(token))
        if inter is None:
            raise _HTTPError(404, "Unknown Webhook", 10015)
        return inter

    def _r_callback(
        self, iid: str, token: str, body: dict[str, Any], files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        inter = self.interactions.get(unquote(token))
        if inter is None or inter.id != int(iid):
            raise _HTTPError(404, "Unknown interaction", 10062)
        if inter.response_type is not None:
            raise _HTTPError(400, "Interaction has already been acknowledged.", 40060)
        rtype = int(body["type"])
        data = body.get("data") or {}
        info: dict[str, Any] = {
            "id": str(inter.id),
            "type": inter.type,
            "response_message_loading": False,
            "response_message_ephemeral": False,
        }
        resource: dict[str, Any] | None = None
        if rtype == 4:
            msg = self._create_message(channel_id=inter.channel_id, body=data, files=files, interaction=inter)
            inter.original_message_id = msg.id
            resource = {"type": 4, "message": self.message_payload(msg)}
        elif rtype == 5:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            msg = self._create_message(
                channel_id=inter.channel_id, body={}, files=[], interaction=inter, extra_flags=flags, validate=False
            )
            inter.original_message_id = msg.id
            info["response_message_loading"] = True
            resource = {"type": 5, "message": self.message_payload(msg)}
        elif rtype in (6, 7):
            src = inter.source_message
            if inter.type not in (3, 5) or src is None:
                raise _HTTPError(400, "Interaction response type not valid for this interaction", 50035)
            if rtype == 7:
                self._apply_edit(src, data, files)
                resource = {"type": 7, "message": self.message_payload(src)}
            inter.original_message_id = src.id
        elif rtype == 9:
            if inter.type == 5:
                raise _HTTPError(400, "Cannot respond to a modal submit with a modal", 50035)
            self._validate_modal(data)
        elif rtype == 8:
            if inter.type != 4:
                raise _HTTPError(400, "Autocomplete result only valid for autocomplete", 50035)
        elif rtype != 1:
            raise _HTTPError(400, f"Unsupported interaction callback type {rtype}", 50035)
        inter.response_type = rtype
        inter.response_data = data
        inter.response_files = files
        answer = inter.message
        if answer is not None:
            info["response_message_id"] = str(answer.id)
            info["response_message_ephemeral"] = answer.ephemeral
        inter.responded.set()
        out: dict[str, Any] = {"interaction": info}
        if resource is not None:
            out["resource"] = resource
        return out

    def _validate_modal(self, data: dict[str, Any]) -> None:
        errors: dict[str, str] = {}
        if not data.get("custom_id") or len(data["custom_id"]) > 100:
            errors["custom_id"] = "custom_id required, 100 or fewer characters"
        if not data.get("title") or len(data["title"]) > 45:
            errors["title"] = "title required, 45 or fewer characters"
        comps = data.get("components") or []
        if not 1 <= len(comps) <= 5:
            errors["components"] = "A modal needs 1..5 top-level components"
        for c in _walk_components(comps):
            if c.get("type") == 4 and len(c.get("label") or "") > 45:
                errors["components.label"] = "Must be 45 or fewer in length."
            if c.get("type") == 18 and len(c.get("label") or "") > 45:
                errors["components.label"] = "Must be 45 or fewer in length."
        if errors:
            raise _HTTPError(400, "Invalid Form Body", 50035, errors)

    def _wh_msg(self, inter: FakeInteraction, mid: str) -> FakeMessage:
        if mid == "@original":
            msg = inter.message
            if msg is None or msg.deleted:
                raise _HTTPError(404, "Unknown Message", 10008)
            return msg
        msg = self._get_msg(mid)
        allowed = {m.id for m in inter.followups} | {inter.original_message_id}
        if msg.id not in allowed and msg.interaction_token != inter.token:
            raise _HTTPError(404, "Unknown Message", 10008)
        return msg

    def _r_wh_get(self, app: str, token: str, mid: str, **_: Any) -> dict[str, Any]:
        inter = self._inter(token, app)
        return self.message_payload(self._wh_msg(inter, mid))

    def _r_wh_edit(
        self, app: str, token: str, mid: str, body: dict[str, Any], files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        inter = self._inter(token, app)
        msg = self._wh_msg(inter, mid)
        self._apply_edit(msg, body or {}, files)
        return self.message_payload(msg)

    def _r_wh_delete(self, app: str, token: str, mid: str, **_: Any) -> None:
        inter = self._inter(token, app)
        self._delete(self._wh_msg(inter, mid))

    def _r_wh_followup(
        self,
        app: str,
        token: str,
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        query: dict[str, str],
        **_: Any,
    ) -> dict[str, Any] | None:
        inter = self._inter(token, app)
        if inter.response_type is None:
            raise _HTTPError(404, "Unknown Webhook", 10015)
        body = body or {}
        original = inter.message
        if inter.response_type == 5 and original is not None and original.loading and not original.deleted:
            # real Discord: the first followup after a "thinking" defer replaces the loading message
            self._validate_message(body, files, create=True)
            self._apply_edit(original, body, files)
            msg = original
        else:
            msg = self._create_message(channel_id=inter.channel_id, body=body, files=files, interaction=inter)
        inter.followups.append(msg)
        if query.get("wait") in ("1", "true", "True"):
            return self.message_payload(msg)
        return None

    # ============================================================================ test actions =======
    def _channel_payload(self, channel_id: int, guild_id: int | None, user_id: int) -> dict[str, Any]:
        if guild_id is None:
            return self._dm_channel_payload(user_id)
        if channel_id in self.channels:
            return self.channels[channel_id]
        return {**self.channels[self.channel_id], "id": str(channel_id), "name": f"channel-{channel_id}"}

    async def _send_interaction(
        self,
        itype: int,
        data: dict[str, Any],
        *,
        user_id: int,
        channel_id: int | None,
        guild_id: int | None,
        message: FakeMessage | None = None,
        parent: FakeInteraction | None = None,
    ) -> FakeInteraction:
        if guild_id is None:
            if user_id not in self.users:
                raise AssertionError(f"unknown user {user_id}; add it with add_member()/add_user()")
            cid = self.dm_channel_id(user_id) if channel_id is None else channel_id
        else:
            if user_id not in self.members:
                raise AssertionError(f"user {user_id} is not a guild member; known: {sorted(self.members)}")
            cid = self.channel_id if channel_id is None else channel_id
        iid = self.snowflake()
        token = "itk_" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": str(cid),
            "channel": self._channel_payload(cid, guild_id, user_id),
            "app_permissions": str(discord.Permissions.all().value),
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = self.member_payload(user_id, with_permissions=True)
            payload["authorizing_integration_owners"] = {"0": str(guild_id)}
            payload["context"] = 0
        else:
            payload["user"] = self.users[user_id]
            payload["authorizing_integration_owners"] = {"0": str(user_id)}
            payload["context"] = 1
        if message is not None:
            payload["message"] = self.message_payload(message)
        inter = FakeInteraction(
            self,
            id=iid,
            token=token,
            type=itype,
            data=data,
            payload=payload,
            user_id=user_id,
            channel_id=cid,
            guild_id=guild_id,
            source_message_id=message.id if message is not None else None,
            parent=parent,
        )
        self.interactions[token] = inter
        await self.dispatch("INTERACTION_CREATE", payload)
        return inter

    def find_command(self, name: str, guild_id: int | None, ctype: int = 1) -> dict[str, Any]:
        scopes = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for cmd in self.registered_commands.get(scope, []):
                if cmd["name"] == name and int(cmd.get("type", 1)) == ctype:
                    return cmd
        have = {str(k): [c["name"] for c in v] for k, v in self.registered_commands.items()}
        raise AssertionError(f"command {name!r} (type {ctype}) is not registered for guild {guild_id}; have {have}")

    def _build_options(
        self,
        defs: list[dict[str, Any]],
        given: dict[str, Any],
        resolved: dict[str, dict[str, Any]],
        *,
        guild_id: int | None,
        channel_id: int,
        check_required: bool = True,
    ) -> list[dict[str, Any]]:
        known = {d["name"]: d for d in defs}
        unknown = set(given) - set(known)
        if unknown:
            desc = [f"{d['name']}:{_OPTION_TYPES.get(d['type'], d['type'])}" for d in defs]
            raise AssertionError(f"unknown option(s) {sorted(unknown)}; command options: {desc}")
        out = []
        for d in defs:
            name, otype = d["name"], int(d["type"])
            if name not in given or given[name] is None:
                if d.get("required") and check_required:
                    raise AssertionError(f"required option {name!r} missing")
                continue
            value = given[name]
            v: Any
            if otype == 3:
                v = str(value)
                if d.get("min_length") and len(v) < d["min_length"]:
                    raise AssertionError(f"option {name!r}: shorter than min_length {d['min_length']}")
                if d.get("max_length") and len(v) > d["max_length"]:
                    raise AssertionError(f"option {name!r}: longer than max_length {d['max_length']}")
            elif otype == 4:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise AssertionError(f"option {name!r} is INTEGER, got {value!r}")
                v = value
            elif otype == 10:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise AssertionError(f"option {name!r} is NUMBER, got {value!r}")
                v = value
            elif otype == 5:
                if not isinstance(value, bool):
                    raise AssertionError(f"option {name!r} is BOOLEAN, got {value!r}")
                v = value
            elif otype in (6, 9) and (int(value) in self.users):
                uid = int(value)
                v = str(uid)
                resolved.setdefault("users", {})[v] = self.users[uid]
                if guild_id is not None and uid in self.members:
                    member = self.member_payload(uid, with_permissions=True)
                    member.pop("user")
                    resolved.setdefault("members", {})[v] = member
            elif otype in (8, 9) and int(value) in self.roles:
                v = str(int(value))
                resolved.setdefault("roles", {})[v] = self.roles[int(value)]
            elif otype == 7:
                cid = int(value)
                v = str(cid)
                ch = self.channels.get(cid) or self._channel_payload(cid, guild_id, 0)
                resolved.setdefault("channels", {})[v] = {
                    **{k: ch[k] for k in ("id", "type", "name") if k in ch},
                    "permissions": str(discord.Permissions.all().value),
                }
            elif otype == 11:
                if isinstance(value, tuple):
                    filename, data, ctype = (*value, None)[:3]
                    att = self.store_blob(filename, data, ctype, ephemeral=True)
                elif isinstance(value, dict):
                    att = value
                else:
                    raise AssertionError(f"option {name!r} is ATTACHMENT: pass (filename, bytes, content_type)")
                v = str(att["id"])
                resolved.setdefault("attachments", {})[v] = {k: x for k, x in att.items() if k != "data"}
            else:
                raise AssertionError(f"option {name!r}: cannot build {_OPTION_TYPES.get(otype, otype)} from {value!r}")
            choices = d.get("choices")
            if choices and otype in (3, 4, 10) and v not in [c["value"] for c in choices]:
                raise AssertionError(f"option {name!r}: {v!r} not among choices {[c['value'] for c in choices]}")
            if otype in (4, 10):
                if d.get("min_value") is not None and v < d["min_value"]:
                    raise AssertionError(f"option {name!r}: {v} < min_value {d['min_value']}")
                if d.get("max_value") is not None and v > d["max_value"]:
                    raise AssertionError(f"option {name!r}: {v} > max_value {d['max_value']}")
            out.append({"name": name, "type": otype, "value": v})
        return out

    def _command_data(
        self,
        name: str,
        *,
        guild_id: int | None,
        channel_id: int,
        options: dict[str, Any] | None,
        attachments: dict[str, tuple[str, bytes, str]] | None,
        subcommand: str | None,
        focused: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        cmd = self.find_command(name, guild_id)
        given = dict(options or {})
        given.update(attachments or {})
        if focused:
            given.pop(focused[0], None)
        resolved: dict[str, dict[str, Any]] = {}
        defs = cmd.get("options") or []
        wrappers: list[dict[str, Any]] = []
        if subcommand:
            for part in subcommand.split():
                match = next((o for o in defs if o["name"] == part and o["type"] in (1, 2)), None)
                if match is None:
                    subs = [o["name"] for o in defs if o["type"] in (1, 2)]
                    raise AssertionError(f"/{name}: no subcommand {part!r}; have {subs}")
                wrappers.append({"name": part, "type": match["type"], "options": []})
                defs = match.get("options") or []
        elif any(o["type"] in (1, 2) for o in defs):
            raise AssertionError(f"/{name} has subcommands {[o['name'] for o in defs]}; pass subcommand=")
        opts = self._build_options(
            defs, given, resolved, guild_id=guild_id, channel_id=channel_id, check_required=focused is None
        )
        if focused:
            fdef = next((o for o in defs if o["name"] == focused[0]), None)
            if fdef is None:
                raise AssertionError(f"/{name}: no option {focused[0]!r}")
            opts.append({"name": focused[0], "type": fdef["type"], "value": focused[1], "focused": True})
        for wrapper in reversed(wrappers):
            wrapper["options"] = opts
            opts = [wrapper]
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data

    async def slash(
        self,
        name: str,
        *,
        user_id: int = 444,
        channel_id: int | None = None,
        guild_id: int | EllipsisType | None = ...,
        options: dict[str, Any] | None = None,
        attachments: dict[str, tuple[str, bytes, str]] | None = None,
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """Invoke a registered slash command (APPLICATION_COMMAND, type 2).

        Option types come from the synced definition.  ``attachments={"image": ("cat.png", data, "image/png")}``
        (or the same tuple as an option value) uploads a file served at ``{url}/attachments/<id>/<name>``.
        ``guild_id=None`` sends it from a DM (global commands only).  ``subcommand="group sub"`` for groups.
        Does not wait for the answer: use ``await inter.wait_response()``.
        """
        gid = self.guild_id if guild_id is ... else guild_id
        cid = channel_id if channel_id is not None else (self.channel_id if gid is not None else None)
        data = self._command_data(
            name,
            guild_id=gid,
            channel_id=cid or 0,
            options=options,
            attachments=attachments,
            subcommand=subcommand,
        )
        return await self._send_interaction(2, data, user_id=user_id, channel_id=cid, guild_id=gid)

    async def autocomplete(
        self,
        name: str,
        option: str,
        value: str,
        *,
        options: dict[str, Any] | None = None,
        user_id: int = 444,
        channel_id: int | None = None,
        guild_id: int | EllipsisType | None = ...,
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """Send an AUTOCOMPLETE (type 4) for ``option`` typed as ``value``; read ``inter.choices``."""
        gid = self.guild_id if guild_id is ... else guild_id
        cid = channel_id if channel_id is not None else (self.channel_id if gid is not None else None)
        data = self._command_data(
            name,
            guild_id=gid,
            channel_id=cid or 0,
            options=options,
            attachments=None,
            subcommand=subcommand,
            focused=(option, value),
        )
        return await self._send_interaction(4, data, user_id=user_id, channel_id=cid, guild_id=gid)

    def _resolve_message(self, target: int | FakeMessage | FakeInteraction) -> FakeMessage:
        if isinstance(target, FakeInteraction):
            msg = target.message
            if msg is None:
                raise AssertionError(f"{target!r} has no response message")
        elif isinstance(target, FakeMessage):
            msg = self.messages.get(target.id, target)
        else:
            msg = self.messages.get(int(target))
            if msg is None:
                raise AssertionError(f"no message {target}\n{self.dump()}")
        if msg.deleted:
            raise AssertionError(f"message {msg.id} was deleted")
        return msg

    async def click(
        self,
        message_id: int | FakeMessage | FakeInteraction,
        label: str | None = None,
        *,
        emoji: str | None = None,
        custom_id: str | None = None,
        user_id: int = 444,
    ) -> FakeInteraction:
        """Click a button (MESSAGE_COMPONENT, type 3) found by exact label, emoji or custom_id."""
        msg = self._resolve_message(message_id)
        if label is None and emoji is None and custom_id is None:
            raise AssertionError("click() needs a label, emoji= or custom_id=")
        found = None
        for c in _walk_components(msg.components):
            if c.get("type") != 2:
                continue
            em = c.get("emoji") or {}
            if (
                (label is not None and c.get("label") == label)
                or (emoji is not None and emoji in (em.get("name"), _emoji_str(em), str(em.get("id"))))
                or (custom_id is not None and c.get("custom_id") == custom_id)
            ):
                found = c
                break
        if found is None:
            raise AssertionError(
                f"no button label={label!r} emoji={emoji!r} custom_id={custom_id!r} on message {msg.id}; "
                f"buttons (label, emoji, custom_id, disabled): {msg.buttons()}"
            )
        if found.get("disabled"):
            raise AssertionError(f"button {found.get('label') or _emoji_str(found.get('emoji'))!r} is disabled")
        if found.get("style") == 5 or "custom_id" not in found:
            raise AssertionError(f"button {found.get('label')!r} is a link/premium button, not clickable")
        data = {"custom_id": found["custom_id"], "component_type": 2}
        guild_id = msg.guild_id
        return await self._send_interaction(
            3, data, user_id=user_id, channel_id=msg.channel_id, guild_id=guild_id, message=msg
        )

    async def select(
        self,
        message_id_or_interaction: int | FakeMessage | FakeInteraction,
        custom_id_or_placeholder: str,
        values: list[str],
        user_id: int = 444,
    ) -> FakeInteraction:
        """Choose ``values`` in a select menu (found by custom_id or placeholder) on a message."""
        msg = self._resolve_message(message_id_or_interaction)
        found = next(
            (c for c in msg.selects() if custom_id_or_placeholder in (c.get("custom_id"), c.get("placeholder"))),
            None,
        )
        if found is None:
            have = [(c.get("custom_id"), c.get("placeholder")) for c in msg.selects()]
            raise AssertionError(f"no select {custom_id_or_placeholder!r} on message {msg.id}; have {have}")
        if found.get("disabled"):
            raise AssertionError(f"select {custom_id_or_placeholder!r} is disabled")
        values = [str(v) for v in values]
        lo, hi = found.get("min_values", 1), found.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise AssertionError(f"select {custom_id_or_placeholder!r} takes {lo}..{hi} values, got {values}")
        ctype = found["type"]
        data: dict[str, Any] = {"custom_id": found["custom_id"], "component_type": ctype, "values": values}
        if ctype == 3:
            allowed = [o["value"] for o in found.get("options") or []]
            bad = [v for v in values if v not in allowed]
            if bad:
                raise AssertionError(f"values {bad} not among select options {allowed}")
        else:
            data["resolved"] = self._resolve_ids(values, ctype, msg.guild_id)
        return await self._send_interaction(
            3, data, user_id=user_id, channel_id=msg.channel_id, guild_id=msg.guild_id, message=msg
        )

    def _resolve_ids(self, values: list[str], ctype: int, guild_id: int | None) -> dict[str, Any]:
        resolved: dict[str, dict[str, Any]] = {}
        for v in values:
            i = int(v)
            if ctype in (5, 7) and i in self.users:
                resolved.setdefault("users", {})[v] = self.users[i]
                if guild_id is not None and i in self.members:
                    member = self.member_payload(i, with_permissions=True)
                    member.pop("user")
                    resolved.setdefault("members", {})[v] = member
            elif ctype in (6, 7) and i in self.roles:
                resolved.setdefault("roles", {})[v] = self.roles[i]
            elif ctype == 8:
                ch = self.channels.get(i) or self._channel_payload(i, guild_id, 0)
                resolved.setdefault("channels", {})[v] = {
                    **{k: ch[k] for k in ("id", "type", "name") if k in ch},
                    "permissions": str(discord.Permissions.all().value),
                }
            else:
                raise AssertionError(f"cannot resolve id {v} for select type {ctype}")
        return resolved

    async def submit_modal(
        self, interaction: FakeInteraction, values: dict[str, str | list[str]], user_id: int = 444
    ) -> FakeInteraction:
        """Submit the modal ``interaction`` answered with (type 9).  Keys: text input custom_id or label."""
        if not interaction.responded.is_set():
            await interaction.wait_response()
        modal = interaction.modal
        if modal is None:
            raise AssertionError(
                f"{interaction!r} was not answered with a modal (response {interaction.response_type})"
            )
        remaining = dict(values)
        known: set[str] = set()
        for c in _walk_components(modal.get("components")):
            if c.get("type") in (4, 18, *_SELECT_TYPES):
                known.update(k for k in (c.get("custom_id"), c.get("label")) if k)
        if set(remaining) - known:
            inputs = [
                (c.get("custom_id"), c.get("label"))
                for c in _walk_components(modal.get("components"))
                if c.get("type") in (4, 18, *_SELECT_TYPES)
            ]
            raise AssertionError(f"modal has no input(s) {sorted(set(remaining) - known)}; inputs: {inputs}")

        def take(comp: dict[str, Any], label: str | None) -> Any:
            for key in (comp.get("custom_id"), label, comp.get("label")):
                if key is not None and key in remaining:
                    return remaining.pop(key)
            return None

        def fill(comp: dict[str, Any], label: str | None) -> dict[str, Any] | None:
            ctype = comp.get("type")
            out: dict[str, Any] = {"type": ctype}
            if comp.get("id") is not None:
                out["id"] = comp["id"]
            if ctype == 4:
                value = take(comp, label)
                if value is None:
                    value = comp.get("value") or ""
                value = str(value)
                name = label or comp.get("label") or comp.get("custom_id")
                if comp.get("required", True) and not value:
                    raise AssertionError(f"modal text input {name!r} is required")
                if value and comp.get("min_length") and len(value) < comp["min_length"]:
                    raise AssertionError(f"modal text input {name!r}: shorter than {comp['min_length']}")
                if comp.get("max_length") and len(value) > comp["max_length"]:
                    raise AssertionError(f"modal text input {name!r}: longer than {comp['max_length']}")
                out.update(custom_id=comp["custom_id"], value=value)
                return out
            if ctype in _SELECT_TYPES:
                value = take(comp, label)
                vals = [] if value is None else ([value] if isinstance(value, str) else list(value))
                out.update(custom_id=comp["custom_id"], values=[str(v) for v in vals])
                return out
            return None

        components: list[dict[str, Any]] = []
        for top in modal.get("components") or []:
            if top.get("type") == 1:
                row = {"type": 1, "components": [c for c in (fill(x, None) for x in top["components"]) if c]}
                if top.get("id") is not None:
                    row["id"] = top["id"]
                components.append(row)
            elif top.get("type") == 18:
                inner = fill(top["component"], top.get("label"))
                if inner is not None:
                    wrapper: dict[str, Any] = {"type": 18, "component": inner}
                    if top.get("id") is not None:
                        wrapper["id"] = top["id"]
                    components.append(wrapper)
            elif top.get("type") == 10:
                components.append({"type": 10, "id": top.get("id")})
        if remaining:  # pragma: no cover - caught by the up-front check
            raise AssertionError(f"modal inputs not filled: {sorted(remaining)}")
        data = {"custom_id": modal["custom_id"], "components": components}
        source = interaction.source_message if interaction.type == 3 else None
        return await self._send_interaction(
            5,
            data,
            user_id=user_id,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            message=source,
            parent=interaction,
        )

    async def user_message(
        self, content: str, *, user_id: int = 444, channel_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Simulate a user posting ``content`` (MESSAGE_CREATE).  Returns the payload sent."""
        cid = self.channel_id if channel_id is None else channel_id
        mid = self.snowflake()
        self._user_message_ids.add(mid)
        payload = {
            "id": str(mid),
            "channel_id": str(cid),
            "guild_id": str(self.guild_id),
            "author": self.users[user_id],
            "member": {k: v for k, v in self.member_payload(user_id).items() if k != "user"},
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            **extra,
        }
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload


# --------------------------------------------------------------------------------------------------
# helpers for tests
# --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def patch_discord(fake: FakeDiscord) -> Iterator[FakeDiscord]:
    """Point discord.py's REST base (``Route.BASE``, a str) and gateway (``DEFAULT_GATEWAY``, a yarl.URL)
    at ``fake`` (which must be started), restoring both afterwards.  Must stay active while the bot runs."""
    if not fake.url:
        raise RuntimeError("start the FakeDiscord before patching")
    route = discord.http.Route
    ws_cls = discord.gateway.DiscordWebSocket
    old_base, old_gateway = route.BASE, ws_cls.DEFAULT_GATEWAY
    route.BASE = fake.api_base
    ws_cls.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        route.BASE = old_base
        ws_cls.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def run_bot(
    bot: discord.Client, fake: FakeDiscord, *, token: str = "fake-token", timeout: float = 10.0
) -> AsyncIterator[discord.Client]:
    """Log ``bot`` in to ``fake`` and run it in a background task until the context exits.

    Waits until ``on_ready`` (so the guild/channel/members are cached).  ``setup_hook`` runs during
    login, as usual.  Lowers ``guild_ready_timeout`` to 0.1 s if it is larger (build bots with
    ``guild_ready_timeout=0.1`` anyway).  The bot is closed on exit; the fake is left running.
    """
    state = bot._connection
    if state.guild_ready_timeout > 0.1:
        state.guild_ready_timeout = 0.1
    with patch_discord(fake):
        await bot.login(token)
        task = asyncio.create_task(bot.connect(reconnect=True), name="fakediscord-bot")
        ready = asyncio.create_task(bot.wait_until_ready())
        try:
            done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                ready.cancel()
                detail = ""
                if task in done and task.exception() is not None:
                    detail = f" (connect failed: {task.exception()!r})"
                raise AssertionError(f"bot did not become ready within {timeout}s{detail}\n{fake.dump()}")
            yield bot
        finally:
            if not ready.done():
                ready.cancel()
            await bot.close()
            try:
                await asyncio.wait_for(task, 5)
            except (Exception, asyncio.CancelledError):
                pass


class ErrorLogCollector(logging.Handler):
    """Collects log records at ERROR or above."""

    def __init__(self, level: int = logging.ERROR) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def format_all(self) -> str:
        fmt = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        out = []
        for r in self.records:
            text = fmt.format(r)
            out.append(text)
        return "\n".join(out)

    def assert_clean(self) -> None:
        assert not self.records, "ERROR logs were emitted:\n" + self.format_all()


DEFAULT_LOGGERS = ("discord", "bot", "cogs", "mjbot")


@contextlib.contextmanager
def capture_error_logs(*logger_names: str, level: int = logging.ERROR) -> Iterator[ErrorLogCollector]:
    """Attach an :class:`ErrorLogCollector` to the named loggers (default: discord, bot, cogs, mjbot)."""
    names = logger_names or DEFAULT_LOGGERS
    handler = ErrorLogCollector(level)
    loggers = [logging.getLogger(n) for n in names]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
