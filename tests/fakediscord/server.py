"""``FakeDiscord``: the fake server, composed of the state and the gateway, REST and driver mixins, and its
lifecycle (``start``/``stop``, ``async with``)."""

from __future__ import annotations

import contextlib

from aiohttp import web

from .driver import DriverMixin
from .gateway import GatewayMixin
from .rest import RestMixin
from .state import FakeState


class FakeDiscord(DriverMixin, RestMixin, GatewayMixin, FakeState):
    """Fake Discord API server.  See the module docstring for usage."""

    # ============================================================================ lifecycle ==========
    async def start(self) -> None:
        self._closing.clear()
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
        self._closing.set()
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
