"""Serving the simulator over HTTP: :class:`Simulator` (a :class:`SimulatorCore` that can start and stop
a server), the aiohttp application (:func:`make_app`: the API under ``/api``, result files under ``/files``,
the ``/_sim`` control plane) and :func:`running_simulator`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.legnext.simulator.engine import RecordedRequest, SimJob, SimulatorCore
from bot.legnext.simulator.media import make_mp4, make_png
from bot.legnext.simulator.rules import (
    ENDPOINTS,
    GRID_TASKS,
    SINGLE_IMAGE_TASKS,
    STORAGE_WINDOW,
    ApiError,
    JSONDict,
    _bad,
    _check_callback,
    _flat_error,
    _refusal,
    _utcnow,
    video_image_urls,
)

log = logging.getLogger(__name__)


# Serving is the only part of the simulator that is not in engine: ``start`` needs :func:`make_app`, and
# engine must not import this module (imports go http -> engine -> rules/media).
class Simulator(SimulatorCore):
    """State and knobs of a simulated Legnext account. Serve it with :func:`make_app`."""

    _runner: web.AppRunner | None = None

    # ---- serving -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the simulator; sets and returns :attr:`base_url` (``http://host:port/api``)."""
        runner = web.AppRunner(make_app(self), shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound = port
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                bound = int(address[1])
                break
        public_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        if ":" in public_host:
            public_host = f"[{public_host}]"
        self.base_url = f"http://{public_host}:{bound}/api"
        log.info("Legnext simulator listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        await self.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


SIM_KEY: web.AppKey[Simulator] = web.AppKey("legnext_simulator", Simulator)


# --------------------------------------------------------------------------------------------
# aiohttp application

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error_response(exc: ApiError) -> web.Response:
    """The HTTP answer of an :class:`ApiError` (flat body)."""
    return web.json_response(_flat_error(exc.status, exc.message, exc.raw_message), status=exc.status)


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise _bad("body: invalid JSON (empty body)")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _bad("body: invalid JSON") from None


def _request_origin(request: web.Request) -> str:
    host = request.headers.get("Host") or request.host
    return f"{request.scheme}://{host}"


def make_app(sim: Simulator) -> web.Application:
    """The aiohttp application that serves ``sim`` (API under ``/api``, files, ``/_sim`` knobs)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sim"):
            return await handler(request)
        rec_path = path[len("/api") :] if path.startswith("/api/") else path
        body: Any = None
        if request.can_read_body:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                body = json.loads(await request.read())
        record = RecordedRequest(
            method=request.method,
            path=rec_path,
            json=body,
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        sim.requests.append(record)
        try:
            response = await _dispatch(request, handler, rec_path, path.startswith("/api/"))
        except web.HTTPException as exc:
            record.status = exc.status
            raise
        except ApiError as exc:
            response = _error_response(exc)
        except Exception:
            log.exception("simulator error on %s %s", request.method, path)
            response = web.json_response(_flat_error(500, "internal server error"), status=500)
        record.status = response.status
        return response

    async def _dispatch(request: web.Request, handler: Handler, rec_path: str, is_api: bool) -> web.StreamResponse:
        if not is_api:
            return await handler(request)
        if not sim.check_key(request.headers.get("x-api-key", "")):
            return web.json_response(_flat_error(401, "Failed to verify api key"), status=401)
        injection = sim.take_injection(request.method, rec_path)
        if injection is None:
            return await handler(request)
        if not injection.create_job:
            log.info("injected HTTP %s for %s %s", injection.status, request.method, rec_path)
            return injection.response()
        try:
            await handler(request)
        except ApiError as exc:
            log.info("injected error after a refused request (%s)", exc.message)
        log.info("injected HTTP %s after creating the job for %s", injection.status, rec_path)
        return injection.response()

    async def submit(request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        if endpoint not in ENDPOINTS:
            raise ApiError(404, "not found")
        body = await _read_json(request)
        if not isinstance(body, dict):
            raise _bad("body: must be a JSON object")
        callback = _check_callback(body)
        plan = sim.plan(endpoint, body)
        if plan.refuse_texts and sim.refused(plan.refuse_texts):
            raise _refusal()
        balance = sim.balance
        if balance < plan.cost:
            raise ApiError(402, "insufficient balance", f"balance {balance} points, task needs {plan.cost}")
        hang = sim.take_hang()
        if hang is not None and not hang.create_job:
            log.info("hanging %s for %.2fs without creating a job", endpoint, hang.seconds)
            await asyncio.sleep(hang.seconds)
            return web.json_response(_flat_error(504, "gateway timeout"), status=504)
        job = sim._create(plan, body, callback, _request_origin(request))
        if sim.fetch_hosts is not None and endpoint in ("describe", "blend", "video-diffusion"):
            # like the real API, the images are fetched for the job: one it can't fetch fails the job
            if endpoint == "video-diffusion":
                urls = video_image_urls(str(body.get("prompt") or "")) if body.get("jobId") is None else []
            else:
                urls = [body["imgUrl"]] if endpoint == "describe" else list(body["imgUrls"])
            problem = await sim.fetch_images(urls)
            if problem is not None:
                job.fail_with = (500, "task failed", problem)
        answer = sim._render(job, _request_origin(request), submit=True)
        if hang is not None:
            log.info("hanging %s for %.2fs after creating job %s", endpoint, hang.seconds, job.job_id)
            await asyncio.sleep(hang.seconds)
        return web.json_response(answer)

    async def get_job(request: web.Request) -> web.StreamResponse:
        job_id = request.match_info["job_id"]
        if job_id not in sim.jobs:
            raise ApiError(404, "job not found")
        return web.json_response(sim.job_json(job_id, _request_origin(request)))

    async def balance(request: web.Request) -> web.StreamResponse:
        if sim.balance_delay_s > 0:
            await asyncio.sleep(sim.balance_delay_s)
        # the simulated account holds no credits, only points: what it can spend (credits + points) is exactly
        # `sim.balance`, which jobs are charged from, and balance_usd = (credits + points) / 1000 as at Legnext
        points = sim.balance
        usd = points / 1000
        return web.json_response(
            {
                "code": 200,
                "message": "success",
                "data": {
                    "account_id": 1,
                    "balance_usd": usd,
                    "available_credits": 0,
                    "available_points": points,
                    "alert_threshold": 10,
                    "low_balance_alert": usd < 10,
                    "updated_at": _utcnow().isoformat().replace("+00:00", "Z"),
                },
            }
        )

    async def api_not_found(request: web.Request) -> web.StreamResponse:
        raise ApiError(404, "not found")

    async def files(request: web.Request) -> web.StreamResponse:
        job = sim.jobs.get(request.match_info["job_id"])
        name = request.match_info["name"]
        sim.advance()
        if job is None or job.state != "completed" or _utcnow() - job.created_at > STORAGE_WINDOW:
            raise web.HTTPNotFound()
        if job.kind == "video":
            match = re.fullmatch(r"([0-9])\.mp4", name)
            if match is None or int(match.group(1)) >= job.outputs:
                raise web.HTTPNotFound()
            return web.Response(body=make_mp4(job.job_id, int(match.group(1))), content_type="video/mp4")
        if job.kind != "image":
            raise web.HTTPNotFound()
        if name == "grid.png" and job.task_type in GRID_TASKS:
            return web.Response(body=make_png(128, 128, tuple(job.colours[:4]), 2), content_type="image/png")
        match = re.fullmatch(r"([0-9])\.png", name)
        if match is None or int(match.group(1)) >= job.outputs:
            raise web.HTTPNotFound()
        width, height = sim.upscale_size if job.task_type in SINGLE_IMAGE_TASKS else (64, 64)
        colour = job.colours[int(match.group(1))]
        return web.Response(body=make_png(width, height, (colour,)), content_type="image/png")

    app = web.Application(middlewares=[middleware], client_max_size=16 * 1024 * 1024)
    app[SIM_KEY] = sim
    app.router.add_post("/api/v1/{endpoint}", submit)
    app.router.add_get("/api/v1/job/{job_id}", get_job)
    app.router.add_get("/api/account/balance", balance)
    app.router.add_route("*", "/api/{tail:.*}", api_not_found)
    app.router.add_get("/files/{job_id}/{name}", files)
    _add_control_routes(app, sim)

    async def on_cleanup(_: web.Application) -> None:
        await sim.shutdown()

    app.on_cleanup.append(on_cleanup)
    return app


# --------------------------------------------------------------------------------------------
# /_sim control plane


async def _control_body(request: web.Request) -> JSONDict:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise web.HTTPBadRequest(text="invalid JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


def _ok(**extra: Any) -> web.Response:
    return web.json_response({"ok": True, **extra})


def _job_or_404(sim: Simulator, job_id: str) -> SimJob:
    job = sim.jobs.get(job_id)
    if job is None:
        raise web.HTTPNotFound(
            text=json.dumps({"ok": False, "error": "job not found"}), content_type="application/json"
        )
    return job


def _add_control_routes(app: web.Application, sim: Simulator) -> None:
    async def inject_error(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        try:
            sim.inject_error(
                int(body["status"]),
                str(body.get("message") or ""),
                count=int(body.get("count", 1)),
                method=str(body.get("method", "POST")),
                path=body.get("path"),
                shape=str(body.get("shape", "flat")),
                retry_after=None if body.get("retry_after") is None else float(body["retry_after"]),
                create_job=bool(body.get("create_job", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"bad inject_error body: {exc!r}") from None
        return _ok()

    async def hang(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        sim.hang_next_submit(float(body.get("seconds", 30.0)), create_job=bool(body.get("create_job", True)))
        return _ok()

    async def fail_next(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        sim.fail_next_job(
            str(body.get("message", "task failed")), str(body.get("raw_message", "")), int(body.get("code", 500))
        )
        return _ok()

    async def fail(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        job = _job_or_404(sim, request.match_info["job_id"])
        sim.fail_job(
            job.job_id,
            str(body.get("message", "task failed")),
            str(body.get("raw_message", "")),
            int(body.get("code", 500)),
        )
        return _ok()

    async def refuse(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        words = body.get("words", [])
        if not isinstance(words, list):
            raise web.HTTPBadRequest(text="words must be a list")
        if body.get("replace"):
            sim.refused_words.clear()
        sim.refused_words.update(str(w) for w in words)
        return _ok(words=sorted(sim.refused_words))

    async def stuck(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        job_id = body.get("job_id") or request.match_info.get("job_id")
        if job_id is not None:
            _job_or_404(sim, str(job_id))
        sim.keep_stuck(None if job_id is None else str(job_id))
        return _ok()

    async def complete(request: web.Request) -> web.StreamResponse:
        job = _job_or_404(sim, request.match_info["job_id"])
        sim.complete_now(job.job_id)
        return _ok()

    async def age(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        job = _job_or_404(sim, request.match_info["job_id"])
        sim.age_job(job.job_id, float(body.get("days", 4.0)))
        return _ok()

    async def time_scale(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        try:
            sim.time_scale = float(body["value"])
        except (KeyError, TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"bad time_scale body: {exc!r}") from None
        return _ok(value=sim.time_scale)

    async def set_balance(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        sim.balance = int(body["value"])
        return _ok(value=sim.balance)

    async def durations(request: web.Request) -> web.StreamResponse:
        body = await _control_body(request)
        sim.durations.update({str(k): float(v) for k, v in body.items()})
        return _ok(durations=sim.durations)

    async def requests_(request: web.Request) -> web.StreamResponse:
        return web.json_response([dataclasses.asdict(r) for r in sim.requests])

    async def jobs(request: web.Request) -> web.StreamResponse:
        return web.json_response([sim.job_json(job_id) for job_id in list(sim.jobs)])

    async def callbacks(request: web.Request) -> web.StreamResponse:
        return web.json_response([{"url": url, "body": body} for url, body in sim.callbacks_sent])

    async def state(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "balance": sim.balance,
                "time_scale": sim.time_scale,
                "jobs": len(sim.jobs),
                "requests": len(sim.requests),
                "callbacks_sent": len(sim.callbacks_sent),
                "refused_words": sorted(sim.refused_words),
                "base_url": sim.base_url,
            }
        )

    async def reset(request: web.Request) -> web.StreamResponse:
        sim.reset()
        return _ok()

    router = app.router
    router.add_post("/_sim/inject_error", inject_error)
    router.add_post("/_sim/hang_next_submit", hang)
    router.add_post("/_sim/fail_next_job", fail_next)
    router.add_post("/_sim/fail/{job_id}", fail)
    router.add_post("/_sim/refuse", refuse)
    router.add_post("/_sim/stuck", stuck)
    router.add_post("/_sim/stuck/{job_id}", stuck)
    router.add_post("/_sim/complete/{job_id}", complete)
    router.add_post("/_sim/age/{job_id}", age)
    router.add_post("/_sim/time_scale", time_scale)
    router.add_post("/_sim/balance", set_balance)
    router.add_post("/_sim/durations", durations)
    router.add_get("/_sim/requests", requests_)
    router.add_get("/_sim/jobs", jobs)
    router.add_get("/_sim/callbacks", callbacks)
    router.add_get("/_sim/state", state)
    router.add_post("/_sim/reset", reset)


@contextlib.asynccontextmanager
async def running_simulator(host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> AsyncIterator[Simulator]:
    """Start a :class:`Simulator` (``kwargs`` go to its constructor) and serve it while in the block."""
    sim = Simulator(**kwargs)
    await sim.start(host, port)
    try:
        yield sim
    finally:
        await sim.stop()
