# ruff: noqa: ASYNC109  (the public API takes ``timeout=`` arguments on purpose)
"""What tests drive the fake with: interactions (``slash``, ``autocomplete``, ``click``, ``select``,
``submit_modal``), ``user_message``, the wait helpers, and the module-level helpers ``patch_discord``,
``run_bot``, ``ErrorLogCollector`` and ``capture_error_logs``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import EllipsisType
from typing import TYPE_CHECKING, Any, cast

import discord
import discord.gateway
import discord.http
import yarl

from .models import FakeInteraction, FakeMessage, _emoji_str, _now_iso, _walk_components
from .state import FakeState
from .validation import _OPTION_TYPES, _SELECT_TYPES

if TYPE_CHECKING:
    from .server import FakeDiscord


class DriverMixin(FakeState):
    """The test-facing actions and wait helpers of :class:`FakeDiscord`."""

    # ============================================================================ waiting ============
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

    # ============================================================================ test actions =======
    def _channel_payload(self, channel_id: int, guild_id: int | None, user_id: int) -> dict[str, Any]:
        if guild_id is None:
            return self._dm_channel_payload(user_id)
        channel = self.guild_channel(channel_id)
        if channel is not None:
            return channel
        base = self.channels.get(self.channel_id) or next(iter(self.channels.values()))
        return {**base, "id": str(channel_id), "name": f"channel-{channel_id}"}

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
            "app_permissions": str(
                self.bot_permissions(cid) if guild_id is not None else discord.Permissions.all().value
            ),
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
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
            cast("FakeDiscord", self),
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
        inter.dispatched_at = time.monotonic()
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
