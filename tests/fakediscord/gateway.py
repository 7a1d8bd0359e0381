"""The websocket side of the fake: the gateway connection, HELLO / IDENTIFY / RESUME / heartbeats /
member chunks, and dispatching events to the connected bot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from .state import FakeState

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


class GatewayMixin(FakeState):
    """The gateway websocket (``/gateway``) of :class:`FakeDiscord`."""

    HEARTBEAT_INTERVAL = 41250

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

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:  # a Discord gateway outage: the websocket handshake fails until it is back
            return web.Response(status=503, text="gateway unavailable")
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
