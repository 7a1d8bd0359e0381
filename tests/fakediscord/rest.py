"""The REST side of the fake (``/api/v10``): routing, fault injection, permission and size enforcement,
the message model, and the handlers for users, commands, channels, messages, interaction callbacks and
webhooks (followups, ``@original``), plus the attachment CDN."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import itertools
import json
import mimetypes
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote

from aiohttp import web

from .models import (
    _DEFAULT_FAULT_MESSAGES,
    FakeInteraction,
    FakeMessage,
    Fault,
    RecordedCall,
    Refusal,
    Violation,
    _json_response,
    _now_iso,
    _walk_components,
)
from .state import FakeState
from .validation import (
    _MAX_CHAT_INPUT_COMMANDS,
    _VIOLATION_CODES,
    COMPONENTS_V2,
    EPHEMERAL,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    LOADING,
    PERM_ADD_REACTIONS,
    PERM_ATTACH_FILES,
    PERM_EMBED_LINKS,
    PERM_READ_MESSAGE_HISTORY,
    PERM_SEND_MESSAGES,
    PERM_SEND_MESSAGES_IN_THREADS,
    PERM_VIEW_CHANNEL,
    SUPPRESS_EMBEDS,
    _FormErrors,
    _HTTPError,
    _validate_command,
    _validate_components,
    _validate_embeds,
)

if TYPE_CHECKING:
    from .server import FakeDiscord


NONCE_MAX = 25  # a message nonce is at most 25 characters
NONCE_WINDOW_S = 300.0  # enforce_nonce looks back a few minutes

class RestMixin(FakeState):
    """The REST API (``/api/v10``) and attachment CDN of :class:`FakeDiscord`."""

    # ============================================================================ fault injection ====
    def inject_fault(
        self,
        method: str = "*",
        path: str = r"",
        status: int | None = 500,
        code: int = 0,
        message: str | None = None,
        retry_after: float | None = None,
        count: int | None = 1,
        hold_s: float = 0.0,
        global_: bool = False,
    ) -> Fault:
        """Answer the next ``count`` REST requests matching ``method`` (``"*"``: any) and ``path`` (regex
        searched in the path after ``/api/v10``) with ``status`` and ``{"message", "code"}``.

        ``status=429`` answers like Discord's rate limiter (body ``retry_after`` seconds, default 1.0, and
        ``global``; headers ``Retry-After``, ``X-RateLimit-*``, ``Via``).  ``hold_s`` stalls the answer; with
        ``status=None`` (or 0) the request is then handled normally.  ``count=None``: until removed.
        Faults are tried in the order they were injected; the first matching one answers.
        """
        fault = Fault(
            method=method.upper(),
            path=re.compile(path),
            status=status or None,
            code=code,
            message=message,
            retry_after=retry_after,
            count=count,
            hold_s=hold_s,
            global_=global_,
            _fake=cast("FakeDiscord", self),
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.hits += 1
                if fault.exhausted:
                    fault.remove()
                return fault
        return None

    # ============================================================================ REST plumbing ======
    async def _handle_other(self, request: web.Request) -> web.Response:
        self.unknown_routes.append(f"{request.method} {request.path}")
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    async def _handle_attachment(self, request: web.Request) -> web.Response:
        aid = int(request.match_info["aid"])
        blob = self._blobs.get(aid)
        if blob is None or blob[0] != unquote(request.match_info["filename"]):
            return web.Response(status=404, text="Not Found")
        # like Discord's CDN since 2024: a link without its signature, with a wrong one or expired is refused
        ex, is_, hm = (request.query.get(k, "") for k in ("ex", "is", "hm"))
        try:
            expires, issued = int(ex, 16), int(is_, 16)
        except ValueError:
            return web.Response(status=404, text="This content is no longer available.")
        if hm != self._signature(aid, blob[0], issued) or expires < time.time() + self.attachment_clock_skew_s:
            return web.Response(status=404, text="This content is no longer available.")
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
            ("POST", r"/channels/(?P<cid>\d+)/typing", self._r_typing),
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
        fault = self._take_fault(request.method, path)
        if fault is not None:
            if fault.hold_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.hold_s)
                if self._closing.is_set():  # the fake is stopping: do not keep its shutdown waiting
                    call.status, call.message = 503, "fake discord is shutting down"
                    return _json_response({"message": call.message, "code": 0}, 503)
            if fault.status:
                call.status, call.code, call.injected = fault.status, fault.code, True
                call.message = fault.message or _DEFAULT_FAULT_MESSAGES.get(fault.status, "")
                return fault.response(request.method, path)
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
            self._check_upload_size(files)
            self._check_channel_access(path)
            result = handler(request=request, body=body, files=files, query=query, **m.groupdict())
            if inspect.isawaitable(result):
                result = await result
        except _HTTPError as err:
            call.status, call.code, call.message = err.status, err.code, err.message
            payload: dict[str, Any] = {"message": err.message, "code": err.code}
            if err.errors:
                payload["errors"] = err.errors
            if err.status == 400 and err.code in _VIOLATION_CODES:
                errors = err.errors or {"_errors": [{"code": str(err.code), "message": err.message}]}
                self.violations.append(Violation(request.method, path, errors))
            if err.status in (403, 413):
                self.refusals.append(Refusal(request.method, path, err.status, err.code))
            return _json_response(payload, err.status)
        except Exception as exc:
            import traceback

            self.errors.append(f"{request.method} {path}: {exc!r}\n{traceback.format_exc()}")
            call.status = 400
            call.message = f"fake discord internal error: {exc!r}"
            return _json_response({"message": call.message, "code": 0}, 400)
        if result is None:
            call.status = 204
            return web.Response(status=204)
        call.status = 200
        return _json_response(result)

    def _check_upload_size(self, files: list[tuple[str, bytes]]) -> None:
        for _name, data in files:
            if len(data) > self.attachment_size_limit:
                raise _HTTPError(413, "Request entity too large", 40005)

    def _check_channel_access(self, path: str) -> None:
        """Every ``/channels/{id}`` route: 404/10003 for unknown or deleted channels, 403/50001 without View
        Channel.  The route-specific permission checks live in the handlers."""
        m = re.match(r"/channels/(\d+)(?:/|$)", path)
        if m is None:
            return
        cid = int(m.group(1))
        if cid in self.dm_channels.values():
            return
        if cid in self.deleted_channels or self.guild_channel(cid) is None:
            raise _HTTPError(404, "Unknown Channel", 10003)
        if not self.bot_permissions(cid) & PERM_VIEW_CHANNEL:
            raise _HTTPError(403, "Missing Access", 50001)

    def _require(self, cid: int, *perms: int) -> None:
        """403/50013 unless the bot has all ``perms`` in guild channel ``cid`` (DMs: always allowed)."""
        if self.guild_channel(cid) is None:
            return
        have = self.bot_permissions(cid)
        for perm in perms:
            if not have & perm:
                raise _HTTPError(403, "Missing Permissions", 50013)

    def _is_thread(self, cid: int) -> bool:
        ch = self.guild_channel(cid)
        return ch is not None and ch.get("type") in (10, 11, 12)

    # ============================================================================ message model ======
    def _signature(self, aid: int, filename: str, issued: int) -> str:
        return hashlib.sha256(f"{aid}{filename}{issued}".encode()).hexdigest()

    def _blob_url(self, aid: int, filename: str) -> str:
        now = int(time.time())
        sig = self._signature(aid, filename, now)
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

    def _validate_message(
        self,
        body: dict[str, Any],
        files: list[tuple[str, bytes]],
        *,
        create: bool,
        attachment_count: int | None = None,
    ) -> None:
        """Discord's message limits (400/50035 with nested errors, 400/50006 for an empty message)."""
        errs = _FormErrors()
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            content = str(content)
        errs.length(("content",), content, 2000)
        embeds = body.get("embeds")
        _validate_embeds(errs, embeds)
        flags = int(body.get("flags") or 0)
        v2 = bool(flags & COMPONENTS_V2)
        components = body.get("components")
        _validate_components(errs, components, v2=v2)
        if v2 and create:
            if content:
                errs.add(
                    ("content",),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
            if embeds:
                errs.add(
                    ("embeds",),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
        spec = body.get("attachments")
        if attachment_count is None:
            attachment_count = max(len(files), len(spec) if isinstance(spec, list) else 0)
        if attachment_count > 10:
            errs.add(
                ("attachments",) if spec is not None else ("files",),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 10 or fewer in length.",
            )
        errs.raise_if_any()
        if create and not (
            content or embeds or components or files or spec or body.get("poll") or body.get("sticker_ids")
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
        guild_id = self.guild_id if self.guild_channel(channel_id) is not None else None
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
        channel = self.guild_channel(msg.channel_id)
        if channel is not None:
            channel["last_message_id"] = str(msg.id)
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
            "flags": int(body.get("flags") if body.get("flags") is not None else msg.flags)
            | (msg.flags & COMPONENTS_V2),
        }
        spec = body.get("attachments")
        if spec is None:
            count = len(msg.attachments) + len(files)
        else:
            fresh = sum(1 for e in spec if str(e.get("id")).isdigit() and int(e["id"]) < len(files))
            count = len(spec) + max(0, len(files) - fresh)
        self._validate_message(merged, files, create=False, attachment_count=count)
        if merged["flags"] & COMPONENTS_V2 and (body.get("content") or body.get("embeds")):
            errs = _FormErrors()
            for key in ("content", "embeds"):
                if body.get(key):
                    errs.add(
                        (key,),
                        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                        f"The '{key}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                    )
            errs.raise_if_any()
        if not (merged["content"] or merged["embeds"] or merged["components"] or count or msg.poll):
            raise _HTTPError(400, "Cannot send an empty message", 50006)  # checked before anything changes
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
        if not isinstance(body, list):
            errs = _FormErrors()
            errs.add((), "BASE_TYPE_ARRAY", "Must be an array.")
            errs.raise_if_any()
        if sum(1 for c in body if isinstance(c, dict) and int(c.get("type") or 1) == 1) > _MAX_CHAT_INPUT_COMMANDS:
            raise _HTTPError(400, f"Maximum number of application commands reached ({_MAX_CHAT_INPUT_COMMANDS})", 30032)
        errs = _FormErrors()
        seen: set[tuple[Any, int]] = set()
        for i, cmd in enumerate(body):
            _validate_command(errs, (i,), cmd)
            if isinstance(cmd, dict):
                key = (cmd.get("name"), int(cmd.get("type") or 1))
                if key in seen:
                    errs.add(
                        (i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
                    )
                seen.add(key)
        errs.raise_if_any()  # nothing is registered when one command is bad
        self.registered_commands[g] = [self._normalize_command(c, g) for c in body]
        return self.registered_commands[g]

    def _r_post_command(self, app: str, body: dict[str, Any], gid: str | None = None, **_: Any) -> dict[str, Any]:
        self._check_app(app)
        g = int(gid) if gid else None
        if g is not None and g != self.guild_id:
            raise _HTTPError(403, "Missing Access", 50001)
        errs = _FormErrors()
        _validate_command(errs, (), body)
        errs.raise_if_any()
        cmd = self._normalize_command(body, g)
        existing = [c for c in self.registered_commands.get(g, []) if c["id"] != cmd["id"]]
        if int(cmd["type"]) == 1 and sum(1 for c in existing if int(c.get("type", 1)) == 1) >= _MAX_CHAT_INPUT_COMMANDS:
            raise _HTTPError(400, f"Maximum number of application commands reached ({_MAX_CHAT_INPUT_COMMANDS})", 30032)
        self.registered_commands[g] = [*existing, cmd]
        return cmd

    def _r_delete_command(self, app: str, cid: str, gid: str | None = None, **_: Any) -> None:
        self._check_app(app)
        g = int(gid) if gid else None
        self.registered_commands[g] = [c for c in self.registered_commands.get(g, []) if c["id"] != cid]

    def _r_get_channel(self, cid: str, **_: Any) -> dict[str, Any]:
        c = int(cid)
        channel = self.guild_channel(c)
        if channel is not None:
            return channel
        for uid, dm in self.dm_channels.items():
            if dm == c:
                return self._dm_channel_payload(uid)
        raise _HTTPError(404, "Unknown Channel", 10003)

    def _r_history(self, cid: str, query: dict[str, str], **_: Any) -> list[dict[str, Any]]:
        if self.guild_channel(int(cid)) is not None and not self.bot_permissions(int(cid)) & PERM_READ_MESSAGE_HISTORY:
            return []  # real Discord: no Read Message History -> no messages, not an error
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
        if self.guild_channel(cid) is None and cid not in self.dm_channels.values():
            raise _HTTPError(404, "Unknown Channel", 10003)

    def _r_send(
        self, cid: str, body: dict[str, Any] | None, files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        c = int(cid)
        self._channel_exists(c)
        body = body or {}
        self._require(c, PERM_SEND_MESSAGES_IN_THREADS if self._is_thread(c) else PERM_SEND_MESSAGES)
        ref = body.get("message_reference")
        if files:
            self._require(c, PERM_ATTACH_FILES)
        if body.get("embeds"):
            self._require(c, PERM_EMBED_LINKS)
        if ref and ref.get("message_id"):
            self._require(c, PERM_READ_MESSAGE_HISTORY)
        if ref and ref.get("fail_if_not_exists", True) and ref.get("message_id"):
            ref_msg = self.messages.get(int(ref["message_id"]))
            if ref_msg is None and int(ref["message_id"]) not in self._user_message_ids:
                errs = _FormErrors()
                errs.add(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                errs.raise_if_any()
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > NONCE_MAX:
            errs = _FormErrors()
            errs.add(("nonce",), "BASE_TYPE_MAX_LENGTH", f"Must be {NONCE_MAX} or fewer in length.")
            errs.raise_if_any()
        if nonce is not None and body.get("enforce_nonce"):
            # Discord: a message by the same author with the same nonce in the last few minutes is returned, and
            # no new message is created
            for old in self.messages.values():
                if (old.channel_id == c and old.nonce == str(nonce) and not old.deleted and old.webhook_id is None
                        and time.monotonic() - old.created_mono < NONCE_WINDOW_S):
                    return self.message_payload(old)
        msg = self._create_message(channel_id=c, body=body, files=files)
        if nonce is not None:
            msg.nonce = str(nonce)
        return self.message_payload(msg)

    def _r_get_message(self, cid: str, mid: str, **_: Any) -> dict[str, Any]:
        if self.guild_channel(int(cid)) is not None and not self.bot_permissions(int(cid)) & PERM_READ_MESSAGE_HISTORY:
            raise _HTTPError(403, "Missing Access", 50001)
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
        if files:
            self._require(int(cid), PERM_ATTACH_FILES)
        if (body or {}).get("embeds"):
            self._require(int(cid), PERM_EMBED_LINKS)
        self._apply_edit(msg, body, files)
        return self.message_payload(msg)

    def _r_delete_message(self, cid: str, mid: str, **_: Any) -> None:
        msg = self._get_msg(mid, cid)
        if msg.ephemeral:
            raise _HTTPError(404, "Unknown Message", 10008)
        self._delete(msg)

    def _r_typing(self, cid: str, **_: Any) -> None:
        c = int(cid)
        self._require(c, PERM_SEND_MESSAGES_IN_THREADS if self._is_thread(c) else PERM_SEND_MESSAGES)

    def _r_react(self, request: web.Request, cid: str, mid: str, emoji: str, **_: Any) -> None:
        if request.method == "PUT":
            self._require(int(cid), PERM_READ_MESSAGE_HISTORY, PERM_ADD_REACTIONS)
        self.reactions.append((request.method, int(cid), int(mid), unquote(emoji)))

    def _r_get_guild(self, gid: str, **_: Any) -> dict[str, Any]:
        if int(gid) != self.guild_id:
            raise _HTTPError(404, "Unknown Guild", 10004)
        payload = self.guild_payload()
        payload["approximate_member_count"] = len(self.members)
        return payload

    def _r_guild_channels(self, gid: str, **_: Any) -> list[dict[str, Any]]:  # threads are not listed here
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
        if inter is None or inter.age > self.interaction_token_ttl_s:
            raise _HTTPError(404, "Unknown Webhook", 10015)
        return inter

    def _r_callback(
        self, iid: str, token: str, body: dict[str, Any], files: list[tuple[str, bytes]], **_: Any
    ) -> dict[str, Any]:
        inter = self.interactions.get(unquote(token))
        if inter is None or inter.id != int(iid) or inter.age > self.interaction_token_ttl_s:
            raise _HTTPError(404, "Unknown interaction", 10062)
        if inter.response_type is not None:
            raise _HTTPError(400, "Interaction has already been acknowledged.", 40060)
        if inter.age > self.initial_response_s:
            inter.late = True
            raise _HTTPError(404, "Unknown interaction", 10062)
        rtype = int(body["type"])
        if rtype in (4, 5, 7) and inter.channel_id in self.deleted_channels:
            raise _HTTPError(404, "Unknown Channel", 10003)
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
                errs = _FormErrors()
                errs.add(
                    ("type",),
                    "INTERACTION_RESPONSE_TYPE_INVALID",
                    "Interaction response type not valid for this interaction",
                )
                errs.raise_if_any()
            if rtype == 7:
                self._apply_edit(src, data, files)
                resource = {"type": 7, "message": self.message_payload(src)}
            inter.original_message_id = src.id
        elif rtype == 9:
            if inter.type == 5:
                errs = _FormErrors()
                errs.add(
                    ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Cannot respond to a modal submit with a modal"
                )
                errs.raise_if_any()
            self._validate_modal(data)
        elif rtype == 8:
            errs = _FormErrors()
            if inter.type != 4:
                errs.add(
                    ("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Autocomplete result only valid for autocomplete"
                )
            choices = data.get("choices")
            errs.length(("data", "choices"), choices, 25, what="list")
            for j, ch in enumerate(choices if isinstance(choices, list) else []):
                if isinstance(ch, dict):
                    errs.length(("data", "choices", j, "name"), ch.get("name"), 100, 1, required=True)
                    if isinstance(ch.get("value"), str):
                        errs.length(("data", "choices", j, "value"), ch.get("value"), 100)
            errs.raise_if_any()
        elif rtype != 1:
            errs = _FormErrors()
            errs.add(("type",), "BASE_TYPE_CHOICES", f"Unsupported interaction callback type {rtype}")
            errs.raise_if_any()
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
        """A modal (callback type 9): paths are relative to ``data``, as Discord reports them."""
        errs = _FormErrors()
        errs.length(("custom_id",), data.get("custom_id"), 100, 1, required=True)
        errs.length(("title",), data.get("title"), 45, 1, required=True)
        comps = data.get("components")
        if comps is None:
            errs.required(("components",))
        _validate_components(errs, comps, v2=False, modal=True)
        if errs:
            errs.tree = {"data": errs.tree}
        errs.raise_if_any()

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
        if inter.channel_id in self.deleted_channels:
            raise _HTTPError(404, "Unknown Channel", 10003)
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
