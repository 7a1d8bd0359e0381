"""The bot's own web server (aiohttp, which discord.py already brings), on `web.listen`:

- `GET /healthz`: 200 when the gateway is connected, the database writable and the Legnext API reachable, else 503;
  a JSON body says which.
- `GET /metrics`: Prometheus text format (`bot.core.metrics`).
- `POST /legnext/callback/<token>`: Legnext's callbacks. The token is unguessable, generated once and kept in the
  database, compared in constant time. The body is only a hint: the job is looked up and the tracker reads it from
  the API (`GET /v1/job/{id}`) at once; nothing in the body is trusted. Unknown jobs, bad tokens, oversized or
  malformed bodies get a 4xx and one log line.
- `/<name>/...`: pages a feature mounts once it is loaded (`mount`), e.g. Vary (Region)'s editor under `/region/`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.config import WebConfig
from bot.core.metrics import Metrics
from bot.core.tracker import Tracker
from bot.legnext.client import LegnextClient
from bot.legnext.errors import AuthError, LegnextError
from bot.storage.jobs import JobRepo
from bot.storage.meta import MetaRepo
from bot.vocabulary import task

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "/legnext/callback/"
MAX_BODY = 256 * 1024  # a job object is a few KB
API_CHECK_EVERY_S = 30.0


# a feature's pages: (request, the path after `/<name>/`) -> response
Pages = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


def callback_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{CALLBACK_PREFIX}{token}"


class WebServer:
    """`async with WebServer(...)`: serve on `cfg.listen` (nothing when it is empty) until the block ends."""

    def __init__(self, cfg: WebConfig, *, metrics: Metrics, jobs: JobRepo, meta: MetaRepo, tracker: Tracker,
                 api: LegnextClient, gateway_ok: Callable[[], bool], owed: Callable[[], int],
                 callback_token: Callable[[], str | None]) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.jobs = jobs
        self.meta = meta
        self.tracker = tracker
        self.api = api
        self.gateway_ok = gateway_ok
        self.owed = owed
        self.callback_token = callback_token
        self._runner: web.AppRunner | None = None
        self._api_checked = 0.0
        self._api_ok = True
        self._api_detail = "not checked yet"
        self._mounts: dict[str, Pages] = {}
        self.port = 0

    @property
    def serving(self) -> bool:
        return bool(self.cfg.listen)

    def mount(self, name: str, pages: Pages) -> None:
        """Serve `/<name>/...` with `pages` (features are loaded after the server started)."""
        self._mounts[name] = pages

    def unmount(self, name: str) -> None:
        self._mounts.pop(name, None)

    # ---- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.cfg.listen:
            return
        host, _, port = self.cfg.listen.rpartition(":")
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        app.router.add_post(CALLBACK_PREFIX + "{token}", self.callback)
        app.router.add_route("*", "/{mount:[a-z]+}/{rest:.*}", self.mounted)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]"), int(port))
        await site.start()
        self.port = self._runner.addresses[0][1] if self._runner.addresses else int(port)
        log.info("web server listening on %s:%d", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebServer:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def mounted(self, request: web.Request) -> web.StreamResponse:
        pages = self._mounts.get(request.match_info["mount"])
        if pages is None:
            raise web.HTTPNotFound()
        return await pages(request, request.match_info["rest"])

    # ---- /healthz ---------------------------------------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        gateway = self.gateway_ok()
        database, db_detail = await self._database_writable()
        api, api_detail = await self._api_reachable()
        body = {
            "ok": gateway and database and api,
            "gateway": "connected" if gateway else "disconnected",
            "database": db_detail,
            "legnext": api_detail,
        }
        return web.json_response(body, status=200 if body["ok"] else 503)

    async def _database_writable(self) -> tuple[bool, str]:
        try:
            await self.meta.set("heartbeat", str(time.time()))  # also what `mjbot health` can read
        except Exception as e:  # any failure to write is what this check reports
            return False, f"not writable ({type(e).__name__})"
        return True, "writable"

    async def _api_reachable(self) -> tuple[bool, str]:
        if time.monotonic() - self._api_checked >= API_CHECK_EVERY_S:
            self._api_checked = time.monotonic()
            try:
                async with asyncio.timeout(5):
                    await self.api.balance(retries=0)
                self._api_ok, self._api_detail = True, "reachable"
            except AuthError:
                self._api_ok, self._api_detail = False, "refuses the API key"
            except (LegnextError, TimeoutError) as e:
                self._api_ok, self._api_detail = False, f"unreachable ({type(e).__name__})"
        return self._api_ok, self._api_detail

    # ---- /metrics ---------------------------------------------------------------------------------------------

    async def metrics_page(self, request: web.Request) -> web.Response:
        self.metrics.jobs.clear()
        for status, task_type, count in await self.jobs.count_by_status_and_task():
            family = task(task_type).family.value
            self.metrics.jobs.labels(status=status, family=family).inc(count)
        self.metrics.deliveries_owed.set(self.owed())
        self.metrics.jobs_tracked.set(self.tracker.tracked)
        return web.Response(body=generate_latest(self.metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    # ---- Legnext's callbacks ----------------------------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        expected = self.callback_token()
        given = request.match_info["token"]
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return self._refuse("bad_token", 404, "callback with a wrong token")
        try:
            raw = await request.read()
            body: Any = json.loads(raw)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("too_large", 413, "callback body over the size cap")
        except (ValueError, RecursionError):  # RecursionError: a body nested thousands deep
            return self._refuse("malformed", 400, "callback body is not JSON")
        data = body.get("data") if isinstance(body, dict) else None
        job_id = data.get("job_id") if isinstance(data, dict) else None
        if not isinstance(job_id, str) or not job_id or len(job_id) > 64:
            return self._refuse("malformed", 400, "callback without a job id")
        job = await self.jobs.by_job_id(job_id)
        if job is None:
            return self._refuse("unknown_job", 404, "callback for a job the bot didn't start")
        # only a hint: the tracker reads the job from the API now, and acts on what the API says
        self.tracker.poke(job.id)
        self.metrics.callbacks.labels(outcome="accepted").inc()
        return web.json_response({"ok": True}, status=202)

    def _refuse(self, outcome: str, status: int, what: str) -> web.Response:
        self.metrics.callbacks.labels(outcome=outcome).inc()
        log.info("refused a %s (%d)", what, status)
        return web.json_response({"ok": False}, status=status)
