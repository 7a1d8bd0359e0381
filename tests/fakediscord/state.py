# ruff: noqa: ASYNC109  (the public API takes ``timeout=`` arguments on purpose)
"""``FakeState``: the state every part of the fake shares (guild, users, members, roles, channels,
threads, permissions, messages, interactions, recorded calls...), entity helpers and queries.

The mixins in ``gateway.py``, ``rest.py`` and ``driver.py`` build on it; ``server.FakeDiscord`` combines them.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
from aiohttp import web

from .models import FakeInteraction, FakeMessage, Fault, RecordedCall, Refusal, Violation, _now_iso
from .validation import DISCORD_EPOCH_MS, PERM_ADMINISTRATOR

if TYPE_CHECKING:
    from .gateway import _GatewayConn


class FakeState:
    """State shared by the gateway, REST and driver mixins (see :class:`FakeDiscord`)."""

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
        # requests real Discord refuses as malformed (400/50035...): assert_clean() fails on them
        self.violations: list[Violation] = []
        self.expect_violations = False
        self.refusals: list[Refusal] = []  # 403 / 413 answers (legitimate for the bot to meet)
        self.faults: list[Fault] = []
        self.attachment_size_limit = 10 * 1024 * 1024  # per file, like a guild without boosts
        # added to the clock when checking an attachment link's expiry: a test sets a day to "expire" every link
        self.attachment_clock_skew_s = 0.0
        self.gateway_down = False  # True: new gateway connections are refused (an outage; see disconnect_all)
        self.initial_response_s = 3.0  # the first interaction callback must come within this
        self.interaction_token_ttl_s = 900.0  # followups / @original edits work this long
        self._bot_perms: dict[int, int] = {}  # channel_id -> the bot's effective permissions there
        self.threads: dict[int, dict[str, Any]] = {}
        self.deleted_channels: set[int] = set()
        self._closing = asyncio.Event()  # set by stop(): ends held (hold_s) requests at once
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

    if TYPE_CHECKING:
        # Implemented by the mixins and called across them (entities broadcast through the gateway, the REST
        # side dispatches, the driver builds message payloads...).  Declared here for type checkers only, so
        # that the mixins need not import each other; at run time FakeDiscord's MRO finds the real ones.
        def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]: ...  # rest.py

        def _broadcast(self, event: str, data: dict[str, Any], *, intent: int | None = None) -> None: ...  # gateway.py

        async def dispatch(self, event: str, data: dict[str, Any]) -> None: ...  # gateway.py

        def message_payload(self, msg: FakeMessage) -> dict[str, Any]: ...  # rest.py

        def store_blob(
            self, filename: str, data: bytes, content_type: str | None = None, *, ephemeral: bool = False
        ) -> dict[str, Any]: ...  # rest.py

        async def wait_for(
            self, predicate: Callable[[], Any], timeout: float = 10.0, *, what: str = ""
        ) -> Any: ...  # driver.py

    # ============================================================================ urls ===============
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
        self.deleted_channels.discard(channel_id)
        self._broadcast("CHANNEL_CREATE", payload)
        return payload

    def add_thread(self, thread_id: int, name: str, parent_id: int | None = None) -> dict[str, Any]:
        """Create a public thread (type 11) under ``parent_id`` (default: the main channel).

        It is part of GUILD_CREATE's ``threads`` and sent as THREAD_CREATE if the bot is connected, so
        discord.py knows it (``guild.get_thread``).  Interactions from it: ``slash(..., channel_id=thread_id)``.
        """
        parent = self.channel_id if parent_id is None else parent_id
        if parent not in self.channels:
            raise AssertionError(f"thread parent {parent} is not a channel of the fake; add it with add_channel()")
        now = _now_iso()
        payload: dict[str, Any] = {
            "id": str(thread_id),
            "type": 11,
            "guild_id": str(self.guild_id),
            "parent_id": str(parent),
            "owner_id": str(self.owner_id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
        }
        self.threads[thread_id] = payload
        self.deleted_channels.discard(thread_id)
        self._broadcast("THREAD_CREATE", {**payload, "newly_created": True})
        return payload

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel or thread (CHANNEL_DELETE / THREAD_DELETE); later REST calls to it -> 404/10003."""
        if channel_id in self.threads:
            payload = self.threads.pop(channel_id)
            self._broadcast(
                "THREAD_DELETE",
                {k: payload[k] for k in ("id", "guild_id", "parent_id", "type")},
            )
        elif channel_id in self.channels:
            payload = self.channels.pop(channel_id)
            self._broadcast("CHANNEL_DELETE", payload)
            for tid in [t for t, p in self.threads.items() if p["parent_id"] == str(channel_id)]:
                self.threads.pop(tid)
                self.deleted_channels.add(tid)
        else:
            raise AssertionError(f"no channel {channel_id}")
        self.deleted_channels.add(channel_id)
        self._bot_perms.pop(channel_id, None)

    def set_bot_permissions(self, channel_id: int, perms: int | discord.Permissions | None) -> None:
        """Set the bot's effective permissions in a channel or thread (``None``: back to the default, all).

        Interactions from the channel carry them as ``app_permissions``; REST calls to ``/channels/{id}``
        are refused like Discord does (403/50001 without View Channel, 403/50013 for a missing permission).
        A thread without its own setting inherits its parent's.
        """
        if perms is None:
            self._bot_perms.pop(channel_id, None)
        else:
            self._bot_perms[channel_id] = perms.value if isinstance(perms, discord.Permissions) else int(perms)

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's effective permissions in a channel (see :meth:`set_bot_permissions`)."""
        value = self._bot_perms.get(channel_id)
        thread = self.threads.get(channel_id)
        if value is None and thread is not None:
            value = self._bot_perms.get(int(thread["parent_id"]))
        if value is None or value & PERM_ADMINISTRATOR:
            return discord.Permissions.all().value
        return value

    def guild_channel(self, channel_id: int) -> dict[str, Any] | None:
        """Payload of a guild channel or thread of the fake (None if unknown or deleted)."""
        return self.channels.get(channel_id) or self.threads.get(channel_id)

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
                "threads": list(self.threads.values()),
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
        """Fail if the bot hit routes the fake does not implement, the fake itself crashed, or the bot sent
        something real Discord refuses as malformed (``violations``, unless ``expect_violations`` is set)."""
        assert not self.unknown_routes, f"unknown routes hit: {self.unknown_routes}"
        assert not self.errors, "fake discord internal errors:\n" + "\n".join(self.errors)
        if not self.expect_violations:
            assert not self.violations, "the bot sent requests real Discord refuses (400):\n" + "\n".join(
                f"  {v.describe()}" for v in self.violations
            )

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
        rejected = [
            c
            for c in self.calls
            if 400 <= c.status < 500 and not c.injected and not (c.method == "GET" and c.code == 10008)
        ]
        if rejected:
            lines.append(f"4xx answers ({len(rejected)}):")
            lines += [f"  {c!r}" for c in rejected[-20:]]
        if self.violations:
            lines.append("violations (requests real Discord refuses):")
            lines += [f"  {v.describe()}" for v in self.violations]
        if self.refusals:
            lines.append(f"refusals (403/413): {self.refusals}")
        if self.faults:
            lines.append(f"active faults: {self.faults}")
        if self.unknown_routes:
            lines.append(f"unknown routes: {self.unknown_routes}")
        if self.errors:
            lines.append("errors:\n" + "\n".join(self.errors))
        return "\n".join(lines)
