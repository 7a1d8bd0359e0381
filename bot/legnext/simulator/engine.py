"""The simulated account: :class:`SimulatorCore` holds its state, clock, knobs and the job lifecycle
(planning of each endpoint, scheduling, completion and failure, webhook callbacks).

Serving it over HTTP is :mod:`bot.legnext.simulator.http`'s job.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.legnext.simulator.media import RGB, tile_colour
from bot.legnext.simulator.rules import (
    DEFAULT_DURATIONS,
    DEFAULT_ERROR_MESSAGES,
    ENDPOINTS,
    ENHANCE_UPSCALE_COST,
    ENHANCE_UPSCALE_ENUMS,
    FOLLOW_UP_WINDOW,
    GRID_TASKS,
    MAX_CONCURRENT,
    MAX_URL,
    MAX_VIDEO_EXTENSIONS,
    SINGLE_IMAGE_TASKS,
    STORAGE_WINDOW,
    TEXT_TASKS,
    VIDEO_TASKS,
    ZERO_TIME,
    ApiError,
    JSONDict,
    ModelInfo,
    _bad,
    _check_box,
    _check_mask,
    _check_polygon,
    _envelope_error,
    _flat_error,
    _get_int,
    _get_str,
    _get_url,
    _iso,
    _refusal,
    _req_int,
    _req_number,
    _req_str,
    _shorten_output,
    _utcnow,
    check_image_prompt,
    check_video_prompt,
    grid_actions,
    parse_model,
    video_batch_size,
)

log = logging.getLogger(__name__)

UPSCALE_SIZE = (128, 128)  # an upscale's PNG, unless a test asks for a real upscale's size (`upscale_size`)


# --------------------------------------------------------------------------------------------
# records


@dataclasses.dataclass
class RecordedRequest:
    """One request the simulator received (``path`` is after ``/api`` for API calls)."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]
    status: int = 0


@dataclasses.dataclass
class SimJob:
    """A job as the simulator keeps it. ``status`` is computed from the simulator's clock."""

    job_id: str
    task_type: str
    payload: Any
    prompt: str
    model: ModelInfo
    cost: int
    created_at: datetime
    seq: int
    duration: float
    created_v: float
    eligible_v: float
    parent_job_id: str | None = None
    image_no: int | None = None
    callback: str | None = None
    origin: str = ""
    outputs: int = 4
    colours: list[RGB] = dataclasses.field(default_factory=list)
    extensions: int = 0
    video_type: int = 0
    age_offset: timedelta = dataclasses.field(default_factory=timedelta)
    state: str = "pending"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    start_v: float | None = None
    end_v: float | None = None
    stuck: bool = False
    fail_with: tuple[int, str, str] | None = None
    error: JSONDict = dataclasses.field(default_factory=lambda: _flat_error(0, ""))
    seed: str = ""
    available_actions: JSONDict | None = None
    text_output: JSONDict | None = None
    consumed: int = 0
    finished: asyncio.Event | None = dataclasses.field(default=None, repr=False, compare=False)
    sim: SimulatorCore | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def status(self) -> str:
        if self.sim is not None:
            self.sim.advance()
        return self.state

    @property
    def text(self) -> str:
        return self.prompt

    @property
    def terminal(self) -> bool:
        return self.state in ("completed", "failed")

    @property
    def kind(self) -> str:
        if self.task_type in VIDEO_TASKS:
            return "video"
        if self.task_type in TEXT_TASKS:
            return "text"
        return "image"


@dataclasses.dataclass
class _Injection:
    status: int
    message: str
    remaining: int
    method: str
    path: str | None
    shape: str
    retry_after: float | None
    create_job: bool

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method != method:
            return False
        return self.path is None or _path_matches(self.path, path)

    def response(self) -> web.Response:
        body = (_envelope_error if self.shape == "envelope" else _flat_error)(self.status, self.message)
        headers: dict[str, str] = {}
        retry_after = self.retry_after
        if retry_after is None and self.status == 429:
            retry_after = 1.0
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        return web.json_response(body, status=self.status, headers=headers)


@dataclasses.dataclass
class _Hang:
    seconds: float
    create_job: bool


def _path_matches(pattern: str, path: str) -> bool:
    if pattern.endswith("/"):
        return path.startswith(pattern)
    return path == pattern


# --------------------------------------------------------------------------------------------
# the simulator


@dataclasses.dataclass
class _Plan:
    """What a validated submit will create."""

    task_type: str
    prompt: str
    model: ModelInfo
    cost: int
    parent: SimJob | None = None
    image_no: int | None = None
    outputs: int = 4
    colours: list[RGB] | None = None
    extensions: int = 0
    video_type: int = 0
    refuse_texts: list[str] = dataclasses.field(default_factory=list)


class SimulatorCore:
    """State, clock, knobs and job lifecycle of a simulated Legnext account.

    Everything but serving: :class:`bot.legnext.simulator.Simulator` adds ``start``/``stop``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        balance: int = 100_000,
        time_scale: float = 1.0,
        durations: dict[str, float] | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.api_key = api_key
        self._initial_balance = balance
        self._initial_time_scale = time_scale
        self._initial_durations = {**DEFAULT_DURATIONS, **(durations or {})}
        self._balance = balance
        self._time_scale = time_scale
        self._virt_base = 0.0
        self._real_base = time.monotonic()
        self._sim_t = 0.0
        self.durations: dict[str, float] = dict(self._initial_durations)
        self.pending_for: float = 0.1
        self.balance_delay_s: float = 0.0  # GET /account/balance waits this long before answering
        self.max_concurrent: int = MAX_CONCURRENT
        self.signed_urls: bool = True
        self.upscale_size: tuple[int, int] = UPSCALE_SIZE  # width, height of the PNG an upscale serves
        self.base_url: str = ""
        self.requests: list[RecordedRequest] = []
        self.jobs: dict[str, SimJob] = {}
        self.refused_words: set[str] = set()
        self.callbacks_sent: list[tuple[str, JSONDict]] = []
        self._active: dict[str, SimJob] = {}
        self._seq = 0
        self._injections: list[_Injection] = []
        self._hang: _Hang | None = None
        self._fail_next: tuple[int, str, str] | None = None
        self._stick_next = False
        self._rng = random.Random()
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        # None: images given to describe/blend are not fetched. A set of hosts: they are fetched (only from those
        # hosts; any other is "unreachable"), and a job whose image can't be fetched fails, as with the real API.
        self.fetch_hosts: set[str] | None = None
        self.fetched: list[str] = []  # URLs fetched, as given

    # ---- clock -------------------------------------------------------------------------

    @property
    def time_scale(self) -> float:
        return self._time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        if value <= 0:
            raise ValueError("time_scale must be positive")
        now_real = time.monotonic()
        self._virt_base = self._virt_base + (now_real - self._real_base) * self._time_scale
        self._real_base = now_real
        self._time_scale = float(value)

    def now_v(self) -> float:
        """Simulated seconds since the simulator was made (scaled by ``time_scale``)."""
        return self._virt_base + (time.monotonic() - self._real_base) * self._time_scale

    def _wall_of(self, virtual: float, now_v: float) -> datetime:
        return _utcnow() - timedelta(seconds=max(0.0, now_v - virtual) / self._time_scale)

    # ---- balance -----------------------------------------------------------------------

    @property
    def balance(self) -> int:
        self.advance()
        return self._balance

    @balance.setter
    def balance(self, value: int) -> None:
        self._balance = int(value)

    # ---- inspection --------------------------------------------------------------------

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many recorded requests match ``method`` and ``path`` (a trailing ``/`` = prefix)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper()) and (path is None or _path_matches(path, r.path))
        )

    def job_json(self, job_id: str, origin: str | None = None) -> JSONDict:
        """The job object as ``GET /v1/job/{job_id}`` would return it now."""
        self.advance()
        return self._render(self.jobs[job_id], origin)

    # ---- knobs -------------------------------------------------------------------------

    def inject_error(
        self,
        status: int,
        message: str = "",
        *,
        count: int = 1,
        method: str = "POST",
        path: str | None = None,
        shape: str = "flat",
        retry_after: float | None = None,
        create_job: bool = False,
    ) -> None:
        """Answer the next ``count`` matching API requests with ``status``.

        ``shape`` is ``"flat"`` or ``"envelope"``; ``create_job`` makes the job (and bills it)
        before answering the error; ``method="*"`` matches any method.
        """
        if shape not in ("flat", "envelope"):
            raise ValueError("shape must be 'flat' or 'envelope'")
        self._injections.append(
            _Injection(
                status=status,
                message=message or DEFAULT_ERROR_MESSAGES.get(status, "error"),
                remaining=count,
                method=method.upper(),
                path=path,
                shape=shape,
                retry_after=retry_after,
                create_job=create_job,
            )
        )

    def hang_next_submit(self, seconds: float, *, create_job: bool = True) -> None:
        """The next submit waits ``seconds`` before answering.

        With ``create_job`` the job is created and billed first and then returned late; without,
        no job is created and the late answer is a 504.
        """
        self._hang = _Hang(seconds=seconds, create_job=create_job)

    def fail_next_job(self, message: str = "task failed", raw_message: str = "", code: int = 500) -> None:
        """The next created job ends ``failed`` (at its normal end time)."""
        self._fail_next = (code, message, raw_message)

    def fail_job(self, job_id: str, message: str = "task failed", raw_message: str = "", code: int = 500) -> None:
        """Fail ``job_id`` now (a finished job is turned into a failed one and refunded)."""
        self.advance()
        job = self.jobs[job_id]
        now_v = self.now_v()
        if job.state == "failed":
            return
        if job.state == "completed":
            job.state = "processing"
        elif job.state == "pending":
            job.start_v = now_v
            job.started_at = self._wall_of(now_v, now_v) - job.age_offset
        job.fail_with = (code, message, raw_message)
        self._finish(job, now_v, now_v)
        self._sim_t = max(self._sim_t, now_v)

    def keep_stuck(self, job_id: str | None = None) -> None:
        """Keep a job ``processing`` forever; ``None`` means the next created job."""
        if job_id is None:
            self._stick_next = True
            return
        self.advance()
        job = self.jobs[job_id]
        if job.terminal:
            log.warning("keep_stuck: job %s already %s", job_id, job.state)
            return
        job.stuck = True
        job.end_v = None

    def complete_now(self, job_id: str) -> None:
        """Jump ``job_id`` to completed."""
        self.advance()
        job = self.jobs[job_id]
        if job.terminal:
            return
        now_v = self.now_v()
        if job.start_v is None:
            job.start_v = now_v
            job.started_at = self._wall_of(now_v, now_v) - job.age_offset
        job.fail_with = None
        job.stuck = False
        self._finish(job, now_v, now_v)
        self._sim_t = max(self._sim_t, now_v)

    def age_job(self, job_id: str, days: float) -> None:
        """Move the job's timestamps ``days`` back (to test the 3-day follow-up window)."""
        job = self.jobs[job_id]
        delta = timedelta(days=days)
        job.age_offset += delta
        job.created_at -= delta
        if job.started_at is not None:
            job.started_at -= delta
        if job.ended_at is not None:
            job.ended_at -= delta

    def reset(self) -> None:
        """Clear knobs, jobs, requests and callbacks; balance, speed and durations back to initial."""
        for task in list(self._callback_tasks):
            task.cancel()
        self._callback_tasks.clear()
        self.requests.clear()
        self.jobs.clear()
        self._active.clear()
        self.callbacks_sent.clear()
        self.refused_words.clear()
        self._injections.clear()
        self._hang = None
        self._fail_next = None
        self.balance_delay_s = 0.0
        self.upscale_size = UPSCALE_SIZE
        self._stick_next = False
        self._balance = self._initial_balance
        self.durations = dict(self._initial_durations)
        self.pending_for = 0.1
        self.max_concurrent = MAX_CONCURRENT
        self.signed_urls = True
        self.time_scale = self._initial_time_scale

    # ---- lifecycle ---------------------------------------------------------------------

    def advance(self) -> None:
        """Bring every job's state up to the current simulated time."""
        now_v = self.now_v()
        t = self._sim_t
        while self._active:
            running = [j for j in self._active.values() if j.state == "processing"]
            next_end = math.inf
            ender: SimJob | None = None
            for job in running:
                if job.end_v is not None and job.end_v < next_end:
                    next_end, ender = job.end_v, job
            next_start = math.inf
            starter: SimJob | None = None
            if len(running) < self.max_concurrent:
                pending = [j for j in self._active.values() if j.state == "pending"]
                if pending:
                    starter = min(pending, key=lambda j: (j.eligible_v, j.seq))
                    next_start = max(starter.eligible_v, t)
            event = min(next_end, next_start)
            if event > now_v or event == math.inf:
                break
            if ender is not None and next_end <= next_start:
                self._finish(ender, next_end, now_v)
            elif starter is not None:
                starter.state = "processing"
                starter.start_v = next_start
                starter.started_at = self._wall_of(next_start, now_v) - starter.age_offset
                if starter.stuck:
                    starter.end_v = None
                else:
                    starter.end_v = next_start + starter.duration * (1.0 - self.pending_for)
            t = event
        self._sim_t = max(self._sim_t, t)

    def _finish(self, job: SimJob, at_v: float, now_v: float) -> None:
        job.end_v = at_v
        job.ended_at = self._wall_of(at_v, now_v) - job.age_offset
        if job.started_at is None:
            job.started_at = job.ended_at
        if job.fail_with is not None:
            code, message, raw = job.fail_with
            job.state = "failed"
            job.error = {"code": code, "raw_message": raw, "message": message, "detail": None}
            self._balance += job.cost
            job.consumed = 0
            log.info("job %s (%s) failed: %s", job.job_id, job.task_type, message)
        else:
            job.state = "completed"
            job.consumed = job.cost
            job.seed = str(self._rng.randint(0, 4294967295))
            if job.task_type in GRID_TASKS:
                job.available_actions = grid_actions(job.model)
            elif job.task_type in ("video_diffusion", "extend_video"):
                idx = list(range(job.outputs))
                acts: JSONDict = {"upscale": idx}
                if job.extensions < MAX_VIDEO_EXTENSIONS:
                    acts = {"extend": list(idx), "upscale": idx}
                job.available_actions = acts
            if job.task_type in TEXT_TASKS:
                job.text_output = self._text_output(job)
            log.info("job %s (%s) completed", job.job_id, job.task_type)
        self._active.pop(job.job_id, None)
        if job.finished is not None:
            job.finished.set()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _create(self, plan: _Plan, payload: Any, callback: str | None, origin: str) -> SimJob:
        self.advance()
        now_v = self.now_v()
        duration = self.durations.get(plan.task_type, 30.0)
        job_id = str(uuid.uuid4())
        job = SimJob(
            job_id=job_id,
            task_type=plan.task_type,
            payload=payload,
            prompt=plan.prompt,
            model=plan.model,
            cost=plan.cost,
            created_at=_utcnow(),
            seq=self._next_seq(),
            duration=duration,
            created_v=now_v,
            eligible_v=now_v + duration * self.pending_for,
            parent_job_id=plan.parent.job_id if plan.parent else None,
            image_no=plan.image_no,
            callback=callback,
            origin=origin,
            outputs=plan.outputs,
            colours=plan.colours or [tile_colour(job_id, i) for i in range(plan.outputs)],
            extensions=plan.extensions,
            video_type=plan.video_type,
            sim=self,
        )
        if self._fail_next is not None:
            job.fail_with = self._fail_next
            self._fail_next = None
        if self._stick_next:
            job.stuck = True
            self._stick_next = False
        self._balance -= plan.cost
        self.jobs[job_id] = job
        self._active[job_id] = job
        log.info("job %s (%s) created, %d points frozen", job_id, plan.task_type, plan.cost)
        if callback:
            self._start_callback(job)
        return job

    # ---- callbacks ---------------------------------------------------------------------

    def _start_callback(self, job: SimJob) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("no running loop: callback for job %s will not be sent", job.job_id)
            return
        job.finished = asyncio.Event()
        task = loop.create_task(self._callback_worker(job))
        self._callback_tasks.add(task)
        task.add_done_callback(self._callback_tasks.discard)

    def _eta_real(self, job: SimJob) -> float:
        """Real seconds until the job is expected to change state (a guess; re-checked)."""
        now_v = self.now_v()
        if job.state == "processing":
            target = job.end_v if job.end_v is not None else now_v + 1.0
        else:
            target = max(job.eligible_v, now_v) + job.duration * (1.0 - self.pending_for)
        return max(0.005, min(1.0, (target - now_v) / self._time_scale))

    async def fetch_images(self, urls: list[str]) -> str | None:
        """Fetch each image as the API would; the reason the first one can't be fetched, or None."""
        for url in urls:
            host = urlsplit(url).hostname or ""
            if self.fetch_hosts is None or host not in self.fetch_hosts:
                return f"failed to fetch image: {host or url[:40]} is not reachable"
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            try:
                async with self._session.get(url, allow_redirects=False) as resp:
                    data = await resp.read()
                    ctype = resp.headers.get("Content-Type", "")
            except (aiohttp.ClientError, TimeoutError) as e:
                return f"failed to fetch image: {type(e).__name__}"
            self.fetched.append(url)
            if resp.status != 200:
                return f"failed to fetch image: HTTP {resp.status}"
            if not ctype.startswith("image/") or not data:
                return "failed to fetch image: not an image"
        return None

    async def _callback_worker(self, job: SimJob) -> None:
        assert job.finished is not None and job.callback is not None
        while True:
            self.advance()
            if job.terminal:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.finished.wait(), timeout=self._eta_real(job))
        url = job.callback
        body: JSONDict = {"timestamp": int(time.time() * 1000), "data": self._render(job, None)}
        self.callbacks_sent.append((url, body))
        try:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            async with self._session.post(url, json=body) as resp:
                await resp.read()
                if resp.status >= 400:
                    log.warning("callback for job %s to %s answered HTTP %s", job.job_id, url, resp.status)
                else:
                    log.info("callback for job %s sent to %s", job.job_id, url)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("callback for job %s to %s failed: %r", job.job_id, url, exc)

    async def shutdown(self) -> None:
        """Cancel callback tasks and close the callback HTTP session."""
        tasks = list(self._callback_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._callback_tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- rendering ---------------------------------------------------------------------

    def _origin(self, job: SimJob, origin: str | None) -> str:
        if origin:
            return origin
        if job.origin:
            return job.origin
        if self.base_url:
            return self.base_url.rsplit("/api", 1)[0]
        return "http://127.0.0.1"

    def _sign(self, job: SimJob, name: str) -> str:
        if not self.signed_urls:
            return ""
        expires = int((job.created_at + STORAGE_WINDOW).timestamp())
        signature = hashlib.sha256(f"{job.job_id}/{name}/{expires}".encode()).hexdigest()[:40]
        return f"?Expires={expires}&Signature={signature}"

    def _file_url(self, job: SimJob, origin: str, name: str, signed: bool = True) -> str:
        url = f"{origin}/files/{job.job_id}/{name}"
        return url + (self._sign(job, name) if signed else "")

    def _skeleton(self, job: SimJob) -> JSONDict:
        if job.kind == "video":
            return {"video_urls": None, "seed": ""}
        if job.kind == "text":
            return {"promptEn": "", "description": "", "finalPrompt": "", "prompts": []}
        return {"image_url": "", "image_urls": None, "seed": ""}

    def _output(self, job: SimJob, origin: str) -> JSONDict:
        if job.state != "completed":
            return self._skeleton(job)
        if job.kind == "text":
            assert job.text_output is not None
            return dict(job.text_output)
        if job.kind == "video":
            out: JSONDict = {
                "video_urls": [self._file_url(job, origin, f"{i}.mp4") for i in range(job.outputs)],
                "seed": job.seed,
            }
            if job.available_actions is not None:
                out["available_actions"] = json.loads(json.dumps(job.available_actions))
            return out
        urls = [self._file_url(job, origin, f"{i}.png") for i in range(job.outputs)]
        if job.task_type in SINGLE_IMAGE_TASKS:
            return {"image_url": urls[0], "image_urls": urls, "seed": job.seed}
        grid = "" if job.task_type == "pan" else self._file_url(job, origin, "grid.png", signed=False)
        out = {"image_url": grid, "image_urls": urls, "seed": job.seed}
        if job.available_actions is not None:
            out["available_actions"] = json.loads(json.dumps(job.available_actions))
        return out

    def _render(self, job: SimJob, origin: str | None, *, submit: bool = False) -> JSONDict:
        zero = ZERO_TIME if job.seq % 2 else ""
        created = "" if submit and zero == "" else _iso(job.created_at)
        started = _iso(job.started_at) if job.started_at is not None and job.state != "pending" else zero
        ended = _iso(job.ended_at) if job.ended_at is not None and job.terminal else zero
        if job.state == "failed":
            error = dict(job.error)
        else:
            error = {"code": 0, "raw_message": "", "message": "", "detail": None}
        return {
            "job_id": job.job_id,
            "model": "midjourney",
            "task_type": job.task_type,
            "status": job.state,
            "config": {"service_mode": "public", "webhook_config": {"endpoint": job.callback or "", "secret": ""}},
            "input": None,
            "output": self._output(job, self._origin(job, origin)),
            "meta": {
                "created_at": created,
                "started_at": started,
                "ended_at": ended,
                "usage": {"type": "point", "frozen": job.cost, "consume": job.consumed},
            },
            "detail": None,
            "logs": [],
            "error": error,
        }

    def _text_output(self, job: SimJob) -> JSONDict:
        if job.task_type == "describe":
            subjects = ["a luminous city at dusk", "a quiet forest clearing", "a portrait in soft light", "an abstract"]
            prompts = [
                f"{s}, detailed illustration, cinematic lighting, seed {job.seed[:4]} --ar 1:1" for s in subjects
            ]
            emojis = ["1\ufe0f\u20e3", "2\ufe0f\u20e3", "3\ufe0f\u20e3", "4\ufe0f\u20e3"]
            return {
                "promptEn": "\n\n".join(f"{e} {p}" for e, p in zip(emojis, prompts, strict=True)),
                "description": "An image described by the Legnext simulator (no real analysis).",
                "finalPrompt": "",
                "prompts": prompts,
            }
        return _shorten_output(job.prompt)

    # ---- request handling --------------------------------------------------------------

    def take_injection(self, method: str, path: str) -> _Injection | None:
        for inj in self._injections:
            if inj.remaining > 0 and inj.matches(method, path):
                inj.remaining -= 1
                if inj.remaining <= 0:
                    self._injections.remove(inj)
                return inj
        return None

    def take_hang(self) -> _Hang | None:
        hang, self._hang = self._hang, None
        return hang

    def check_key(self, key: str) -> bool:
        if not key:
            return False
        if self.api_key is None:
            return True
        return hmac.compare_digest(key.encode(), self.api_key.encode())

    def refused(self, texts: Sequence[str]) -> bool:
        words = [w.lower() for w in self.refused_words if w]
        return any(word in text.lower() for text in texts for word in words)

    def _parent(self, body: JSONDict, key: str = "jobId") -> SimJob:
        job_id = _req_str(body, key, max_len=128)
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "job not found")
        if _utcnow() - job.created_at > FOLLOW_UP_WINDOW:
            raise ApiError(404, "job not found: outside the operation window (3 days after creation)")
        self.advance()
        if job.state != "completed":
            raise _bad(f"{key}: job {job_id} is {job.state}, not completed")
        return job

    def _grid_parent(self, body: JSONDict, action: str, image_no: int | None) -> SimJob:
        parent = self._parent(body)
        if parent.task_type not in GRID_TASKS or parent.available_actions is None:
            raise _bad(f"jobId: {action} is not available for a {parent.task_type} job; use the grid job and imageNo")
        allowed = parent.available_actions.get(action)
        if action == "reroll":
            if allowed is not True:
                raise _bad("jobId: reroll is not available for this job")
            return parent
        if not isinstance(allowed, list):
            if action == "enhance":
                raise _bad("jobId: enhance needs a source job made with --v 7 --draft")
            raise _bad(f"jobId: {action} is not available for this job (model v{parent.model.version})")
        if image_no not in allowed:
            raise _bad(f"imageNo: {action} is not available for image {image_no} of this job")
        return parent

    def plan(self, endpoint: str, body: JSONDict) -> _Plan:
        """Validate a submit body; return what to create or raise :class:`ApiError`."""
        task = ENDPOINTS[endpoint]
        handler = getattr(self, "_plan_" + task)
        plan: _Plan = handler(body)
        return plan

    @staticmethod
    def _image_cost(base: int, model: ModelInfo, *, draft_halves: bool = False) -> int:
        cost = base
        if draft_halves and model.draft:
            cost //= 2
        if model.turbo:
            cost *= 2
        if model.premium:
            cost *= 4
        return cost

    def _plan_diffusion(self, body: JSONDict) -> _Plan:
        text = _req_str(body, "text")
        model = parse_model(text, "text")
        check_image_prompt(text, model, "text")
        return _Plan("diffusion", text, model, self._image_cost(80, model, draft_halves=True), refuse_texts=[text])

    def _finish_follow_up(self, body: JSONDict, task: str, base_cost: int, image_no: int, remix: str | None) -> _Plan:
        texts = [remix] if remix else []
        if self.refused(texts):
            raise _refusal()
        parent = self._grid_parent(body, task, image_no)
        if remix is not None:
            check_image_prompt(remix, parent.model, "remixPrompt")
        model = parent.model
        if task == "enhance":
            model = dataclasses.replace(model, draft=False)
        return _Plan(
            task,
            remix or parent.prompt,
            model,
            self._image_cost(base_cost, parent.model),
            parent=parent,
            image_no=image_no,
            refuse_texts=texts,
        )

    def _plan_variation(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        _req_int(body, "type", 0, 1)
        remix = _get_str(body, "remixPrompt", required=False)
        return self._finish_follow_up(body, "variation", 120, image_no, remix)

    def _plan_upscale(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        kind = _req_int(body, "type", 0, 3)
        if kind >= 2:
            raise _bad(f"type: {kind} ({2 if kind == 2 else 4}x) is deprecated and only supported by v5/niji5")
        plan = self._finish_follow_up(body, "upscale", 160 if kind == 1 else 120, image_no, None)
        assert plan.parent is not None
        plan.outputs = 1
        plan.colours = [plan.parent.colours[image_no]]
        return plan

    def _plan_reroll(self, body: JSONDict) -> _Plan:
        _req_str(body, "jobId", max_len=128)
        parent = self._grid_parent(body, "reroll", None)
        return _Plan(
            "reroll", parent.prompt, parent.model, self._image_cost(80, parent.model, draft_halves=True), parent=parent
        )

    def _plan_blend(self, body: JSONDict) -> _Plan:
        urls = body.get("imgUrls")
        if urls is None:
            raise _bad("imgUrls: is required")
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise _bad("imgUrls: must be an array of strings")
        if not 2 <= len(urls) <= 5:
            raise _bad("imgUrls: must hold 2 to 5 images")
        for i, url in enumerate(urls):
            if not re.match(r"https?://\S+$", url) or len(url) > MAX_URL:
                raise _bad(f"imgUrls[{i}]: must be an http(s) URL of at most {MAX_URL} characters")
        ratio = body.get("aspect_ratio")
        if ratio is None:
            raise _bad("aspect_ratio: is required")
        if ratio not in ("2:3", "1:1", "3:2"):
            raise _bad("aspect_ratio: must be one of 2:3, 1:1, 3:2")
        return _Plan("blend", " ".join(urls), ModelInfo(), 80)

    def _plan_describe(self, body: JSONDict) -> _Plan:
        url = _get_url(body, "imgUrl", required=True)
        assert url is not None
        return _Plan("describe", url, ModelInfo(), 20, outputs=0)

    def _plan_shorten(self, body: JSONDict) -> _Plan:
        prompt = _req_str(body, "prompt")
        return _Plan("shorten", prompt, ModelInfo(), 20, outputs=0, refuse_texts=[prompt])

    def _plan_pan(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        _req_int(body, "direction", 0, 3)
        _req_number(body, "scale", 1.1, 3.0)
        remix = _get_str(body, "remixPrompt", required=False)
        return self._finish_follow_up(body, "pan", 80, image_no, remix)

    def _plan_outpaint(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        _req_number(body, "scale", 1.1, 2.0)
        remix = _get_str(body, "remixPrompt", required=False)
        return self._finish_follow_up(body, "outpaint", 80, image_no, remix)

    def _plan_inpaint(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        has_area = body.get("area") is not None
        _check_mask(body, required=not has_area)
        if has_area:
            _check_polygon(body["area"], "area")
        remix = _get_str(body, "remixPrompt", required=False)
        return self._finish_follow_up(body, "inpaint", 80, image_no, remix)

    def _plan_remix(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        remix = _get_str(body, "remixPrompt", required=True)
        _get_int(body, "mode", 0, 1, required=False)
        return self._finish_follow_up(body, "remix", 80, image_no, remix)

    def _plan_edit(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        _check_box(body, "canvas", ("width", "height"))
        _check_box(body, "imgPos", ("width", "height", "x", "y"))
        remix = _get_str(body, "remixPrompt", required=True)
        _check_mask(body, required=False)
        return self._finish_follow_up(body, "edit", 80, image_no, remix)

    def _plan_enhance(self, body: JSONDict) -> _Plan:
        image_no = _req_int(body, "imageNo", 0, 3)
        return self._finish_follow_up(body, "enhance", 80, image_no, None)

    def _plan_upload_paint(self, body: JSONDict) -> _Plan:
        url = _get_url(body, "imgUrl", required=True)
        _check_box(body, "canvas", ("width", "height"))
        _check_box(body, "imgPos", ("width", "height", "x", "y"))
        remix = _req_str(body, "remixPrompt")
        _check_mask(body, required=True)
        model = parse_model(remix, "remixPrompt")
        check_image_prompt(remix, model, "remixPrompt")
        assert url is not None
        return _Plan("upload_paint", remix, model, self._image_cost(80, model), refuse_texts=[remix])

    def _plan_retexture(self, body: JSONDict) -> _Plan:
        _get_url(body, "imgUrl", required=True)
        remix = _req_str(body, "remixPrompt")
        model = parse_model(remix, "remixPrompt")
        check_image_prompt(remix, model, "remixPrompt")
        return _Plan("retexture", remix, model, self._image_cost(80, model), refuse_texts=[remix])

    def _plan_remove_background(self, body: JSONDict) -> _Plan:
        url = _get_url(body, "imgUrl", required=True)
        assert url is not None
        return _Plan("remove_background", url, ModelInfo(), 80, outputs=1)

    def _plan_video_diffusion(self, body: JSONDict) -> _Plan:
        video_type = _get_int(body, "videoType", 0, 1, required=False) or 0
        has_job = body.get("jobId") is not None
        prompt = _get_str(body, "prompt", required=not has_job)
        image_no: int | None = None
        if has_job:
            image_no = _req_int(body, "imageNo", 0, 3)
        elif prompt is not None and not re.match(r"https?://\S+(\s|$)", prompt.strip()):
            raise _bad('prompt: must start with an image URL: "<image_url> your prompt" (or send jobId and imageNo)')
        if prompt is not None:
            check_video_prompt(prompt)
        batch = video_batch_size(prompt or "")
        if prompt and self.refused([prompt]):
            raise _refusal()
        parent: SimJob | None = None
        if has_job:
            parent = self._parent(body)
            if parent.kind != "image":
                raise _bad(f"jobId: job {parent.job_id} is a {parent.task_type} job, not an image job")
            if image_no is None or image_no >= parent.outputs:
                raise _bad(f"imageNo: job has no image {image_no}")
        base = 1536 if video_type == 1 else 480
        return _Plan(
            "video_diffusion",
            prompt or (parent.prompt if parent else ""),
            ModelInfo(version="video"),
            base * batch // 4,
            parent=parent,
            image_no=image_no,
            outputs=batch,
            video_type=video_type,
            refuse_texts=[prompt] if prompt else [],
        )

    def _video_parent(self, body: JSONDict, action: str) -> tuple[SimJob, int]:
        video_no = _req_int(body, "videoNo", 0, 3)
        _req_str(body, "jobId", max_len=128)
        return self._check_video_parent(body, action, video_no)

    def _check_video_parent(self, body: JSONDict, action: str, video_no: int) -> tuple[SimJob, int]:
        parent = self._parent(body)
        if parent.task_type not in ("video_diffusion", "extend_video") or parent.available_actions is None:
            raise _bad(f"jobId: job {parent.job_id} is a {parent.task_type} job, not a video job")
        allowed = parent.available_actions.get(action)
        if not isinstance(allowed, list):
            if action == "extend":
                raise _bad(f"jobId: the video was already extended {MAX_VIDEO_EXTENSIONS} times")
            raise _bad(f"jobId: {action} is not available for this video")
        if video_no not in allowed:
            raise _bad(f"videoNo: job has no video {video_no}")
        return parent, video_no

    def _plan_extend_video(self, body: JSONDict) -> _Plan:
        video_no = _req_int(body, "videoNo", 0, 3)
        prompt = _get_str(body, "prompt", required=False)
        _req_str(body, "jobId", max_len=128)
        if prompt is not None:
            check_video_prompt(prompt)
        if prompt and self.refused([prompt]):
            raise _refusal()
        parent, _ = self._check_video_parent(body, "extend", video_no)
        return _Plan(
            "extend_video",
            prompt or parent.prompt,
            parent.model,
            480,
            parent=parent,
            image_no=video_no,
            outputs=parent.outputs,
            extensions=parent.extensions + 1,
            video_type=parent.video_type,
            refuse_texts=[prompt] if prompt else [],
        )

    def _plan_video_upscale(self, body: JSONDict) -> _Plan:
        parent, video_no = self._video_parent(body, "upscale")
        return _Plan(
            "video_upscale",
            parent.prompt,
            parent.model,
            480,
            parent=parent,
            image_no=video_no,
            outputs=1,
            video_type=parent.video_type,
        )

    def _plan_enhance_upscale(self, body: JSONDict) -> _Plan:
        resolution = body.get("target_resolution", "2K")
        if not isinstance(resolution, str) or resolution not in ENHANCE_UPSCALE_COST:
            raise _bad("target_resolution: must be one of {}".format(", ".join(ENHANCE_UPSCALE_COST)))
        for key, allowed in ENHANCE_UPSCALE_ENUMS.items():
            if key in body and body[key] not in allowed:
                raise _bad("{}: must be one of {}".format(key, ", ".join(allowed)))
        has_job = body.get("jobId") is not None
        url = body.get("image_url")
        if has_job and url is not None:
            raise _bad("image_url: give either image_url or jobId and imageNo, not both")
        cost = ENHANCE_UPSCALE_COST[str(resolution)]
        if not has_job:
            if url is None:
                raise _bad("image_url: is required (or jobId and imageNo)")
            if not isinstance(url, str) or not re.match(r"https?://\S+$", url) or len(url) > MAX_URL:
                raise _bad(f"image_url: must be an http(s) URL of at most {MAX_URL} characters")
            return _Plan("enhance_upscale", url, ModelInfo(), cost, outputs=1)
        image_no = _req_int(body, "imageNo", 0, 3)
        parent = self._parent(body)
        if parent.kind != "image" or image_no >= parent.outputs:
            raise _bad(f"imageNo: job {parent.job_id} has no image {image_no}")
        return _Plan(
            "enhance_upscale",
            parent.prompt,
            parent.model,
            cost,
            parent=parent,
            image_no=image_no,
            outputs=1,
            colours=[parent.colours[image_no]],
        )
