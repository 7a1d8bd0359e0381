"""The Legnext client (bot.legnext.client) against the local simulator, over real HTTP on 127.0.0.1.

Nothing here reaches api.legnext.ai: every client points at a `running_simulator()` (or at a closed local port).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.legnext import models as m
from bot.legnext.client import LegnextClient, parse_retry_after
from bot.legnext.errors import (
    AuthError,
    BadRequest,
    ContentRefused,
    InvalidRequest,
    LegnextError,
    NotFound,
    OutOfCredits,
    RateLimited,
    ServerError,
    SubmitOutcomeUnknown,
    TooLarge,
    TransportError,
    UnexpectedResponse,
)
from bot.legnext.simulator import ZERO_TIME, Simulator, running_simulator

KEY = "test-key"
SECRET_KEY = "sk-very-secret-0123456789abcdef"
READ_RETRIES = 3
SUBMIT_429_RETRIES = 2
IMG = "https://cdn.example.com/a.png"
IMG2 = "https://cdn.example.com/b.png"
POLYGON = {"width": 1024, "height": 1024, "points": [0, 0, 500, 0, 500, 500, 0, 500]}


def make_client(base_url: str, api_key: str = KEY, **kw: Any) -> LegnextClient:
    opts: dict[str, Any] = {
        "timeout_s": 5.0,
        "read_retries": READ_RETRIES,
        "submit_429_retries": SUBMIT_429_RETRIES,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
    }
    opts.update(kw)
    return LegnextClient(base_url=base_url, api_key=api_key, **opts)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    # time_scale 1: jobs stay pending for seconds unless a test completes them with complete_now().
    async with running_simulator() as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[LegnextClient]:
    async with make_client(sim.base_url) as c:
        yield c


def last_body(sim: Simulator) -> dict[str, Any]:
    body = sim.requests[-1].json
    assert isinstance(body, dict)
    return body


async def grid(client: LegnextClient, sim: Simulator, text: str = "a red fox in the snow --v 7") -> str:
    """A completed diffusion grid (the parent every follow-up needs)."""
    job = await client.diffusion(text)
    sim.complete_now(job.job_id)
    return job.job_id


async def wait_finished(client: LegnextClient, job_id: str) -> m.Job:
    async with asyncio.timeout(3.0):
        while True:
            job = await client.get_job(job_id)
            if job.finished:
                return job
            await asyncio.sleep(0.01)


# ------------------------------------------------------------------------------------------------ 1. round trips


async def test_every_endpoint_round_trips_with_documented_keys(client: LegnextClient, sim: Simulator) -> None:
    made: list[tuple[m.Job, str]] = []

    async def check(call: Awaitable[m.Job], path: str, task_type: str, body: dict[str, Any]) -> m.Job:
        job = await call
        rec = sim.requests[-1]
        assert (rec.method, rec.path, rec.status) == ("POST", path, 200)
        assert rec.headers["x-api-key"] == KEY
        assert last_body(sim) == body
        assert job.status == "pending" and job.running and not job.finished
        assert job.task_type == task_type
        assert job.job_id in sim.jobs and sim.jobs[job.job_id].task_type == task_type
        assert job.usage.frozen == sim.jobs[job.job_id].cost > 0
        made.append((job, task_type))
        return job

    hook = "https://hooks.example.com/legnext/abc"
    parent = await check(client.diffusion("a red fox --v 7", callback=hook), "/v1/diffusion", "diffusion",
                         {"text": "a red fox --v 7", "callback": hook})
    pid = parent.job_id
    sim.complete_now(pid)
    assert sim.jobs[pid].state == "completed"

    await check(client.variation(pid, 1, 0, remix_prompt="a blue fox"), "/v1/variation", "variation",
                {"jobId": pid, "imageNo": 1, "type": 0, "remixPrompt": "a blue fox"})
    await check(client.upscale(pid, 2, 1), "/v1/upscale", "upscale", {"jobId": pid, "imageNo": 2, "type": 1})
    await check(client.reroll(pid), "/v1/reroll", "reroll", {"jobId": pid})
    await check(client.blend([IMG, IMG2], "3:2"), "/v1/blend", "blend", {"imgUrls": [IMG, IMG2], "aspect_ratio": "3:2"})
    await check(client.describe(IMG), "/v1/describe", "describe", {"imgUrl": IMG})
    await check(client.shorten("a very long prompt about foxes"), "/v1/shorten", "shorten",
                {"prompt": "a very long prompt about foxes"})
    await check(client.pan(pid, 3, 2, 2.0), "/v1/pan", "pan",
                {"jobId": pid, "imageNo": 3, "direction": 2, "scale": 2.0})
    await check(client.outpaint(pid, 0, 1.5), "/v1/outpaint", "outpaint", {"jobId": pid, "imageNo": 0, "scale": 1.5})
    await check(client.inpaint(pid, 0, {"areas": [POLYGON]}, remix_prompt="a hat"), "/v1/inpaint", "inpaint",
                {"jobId": pid, "imageNo": 0, "mask": {"areas": [POLYGON]}, "remixPrompt": "a hat"})
    await check(client.remix(pid, 1, "as a watercolour", mode=1), "/v1/remix", "remix",
                {"jobId": pid, "imageNo": 1, "remixPrompt": "as a watercolour", "mode": 1})
    canvas = {"width": 1024, "height": 1024}
    pos = {"width": 512, "height": 512, "x": 256, "y": -10}
    await check(client.edit(pid, 2, canvas, pos, "on a beach"), "/v1/edit", "edit",
                {"jobId": pid, "imageNo": 2, "canvas": canvas, "imgPos": pos, "remixPrompt": "on a beach"})
    await check(client.upload_paint(IMG, canvas, pos, "a castle", {"areas": [POLYGON]}), "/v1/upload-paint",
                "upload_paint", {"imgUrl": IMG, "canvas": canvas, "imgPos": pos, "remixPrompt": "a castle",
                                 "mask": {"areas": [POLYGON]}})
    await check(client.retexture(IMG, "made of gold"), "/v1/retexture", "retexture",
                {"imgUrl": IMG, "remixPrompt": "made of gold"})
    await check(client.remove_background(IMG), "/v1/remove-background", "remove_background", {"imgUrl": IMG})

    draft = await grid(client, sim, "a sketch of a fox --v 7 --draft")
    await check(client.enhance(draft, 3), "/v1/enhance", "enhance", {"jobId": draft, "imageNo": 3})

    video = await check(client.video_diffusion(job_id=pid, image_no=1, video_type=1), "/v1/video-diffusion",
                        "video_diffusion", {"jobId": pid, "imageNo": 1, "videoType": 1})
    await check(client.video_diffusion(prompt=f"{IMG} waves crashing"), "/v1/video-diffusion", "video_diffusion",
                {"prompt": f"{IMG} waves crashing"})
    sim.complete_now(video.job_id)
    await check(client.extend_video(video.job_id, 2, prompt="zoom out"), "/v1/extend-video", "extend_video",
                {"jobId": video.job_id, "videoNo": 2, "prompt": "zoom out"})
    await check(client.video_upscale(video.job_id, 0), "/v1/video-upscale", "video_upscale",
                {"jobId": video.job_id, "videoNo": 0})
    await check(client.enhance_upscale(image_url=IMG, target_resolution="4K"), "/v1/enhance-upscale",
                "enhance_upscale", {"image_url": IMG, "target_resolution": "4K"})
    await check(client.enhance_upscale(job_id=pid, image_no=2, output_format="png"), "/v1/enhance-upscale",
                "enhance_upscale", {"jobId": pid, "imageNo": 2, "output_format": "png"})

    # every documented submit endpoint was hit, every job is distinct, and `callback: null` was never sent
    assert {t for _, t in made} == {cls.task_type for cls in m.REQUEST_TYPES}
    assert len({j.job_id for j, _ in made}) == len(made)
    posts = [r for r in sim.requests if r.method == "POST"]
    assert len(posts) == len(made) + 1  # + the --draft parent
    for r in posts:
        assert isinstance(r.json, dict)
        assert None not in r.json.values(), r.json
    assert sum("callback" in r.json for r in posts) == 1

    # get_job and balance
    got = await client.get_job(pid)
    assert got.job_id == pid and got.completed and got.task_type == "diffusion"
    assert sim.requests[-1].method == "GET" and sim.requests[-1].path == f"/v1/job/{pid}"
    bal = await client.balance()
    assert sim.requests[-1].path == "/account/balance"
    assert bal.code == 200 and bal.message == "success"
    assert bal.data.available_points == sim.balance
    assert bal.data.balance_usd == pytest.approx(sim.balance / 1000)


async def test_completed_outputs_of_each_kind(client: LegnextClient, sim: Simulator) -> None:
    pid = await grid(client, sim)
    up = await client.upscale(pid, 1, 0)
    desc = await client.describe(IMG)
    short = await client.shorten("a photo of a red fox sitting in the snow at dawn")
    vid = await client.video_diffusion(job_id=pid, image_no=0)
    for j in (up, desc, short, vid):
        sim.complete_now(j.job_id)

    u = await client.get_job(up.job_id)
    assert u.completed and u.output is not None
    assert u.output.available_actions is None
    assert u.output.image_url is not None and u.output.images() == [u.output.image_url]

    d = await client.get_job(desc.job_id)
    assert d.output is not None
    prompts = d.output.describe_prompts()
    assert len(prompts) == 4 and all(p.endswith("--ar 1:1") for p in prompts)

    s = await client.get_job(short.job_id)
    assert s.output is not None and s.output.prompts is not None and len(s.output.prompts) == 5
    assert s.output.finalPrompt is not None and "Important tokens" in s.output.finalPrompt

    v = await client.get_job(vid.job_id)
    assert v.output is not None and v.output.video_urls is not None and len(v.output.video_urls) == 4
    assert all(".mp4" in url for url in v.output.video_urls)
    assert v.output.action_indexes("extend") == {0, 1, 2, 3} == v.output.action_indexes("upscale")


# ------------------------------------------------------------------------------------------------ 2. validation


INVALID: list[tuple[str, Callable[[LegnextClient], Awaitable[m.Job]], str]] = [
    ("imageNo 4", lambda c: c.upscale("job", 4, 0), "imageNo"),
    ("imageNo -1", lambda c: c.variation("job", -1, 0), "imageNo"),
    ("pan scale 3.5", lambda c: c.pan("job", 0, 0, 3.5), "scale"),
    ("outpaint scale 2.5", lambda c: c.outpaint("job", 0, 2.5), "scale"),
    ("direction 4", lambda c: c.pan("job", 0, 4, 1.5), "direction"),
    ("blend 1 url", lambda c: c.blend([IMG]), "imgUrls"),
    ("blend 6 urls", lambda c: c.blend([IMG] * 6), "imgUrls"),
    ("blend bad ratio", lambda c: c.blend([IMG, IMG2], "16:9"), "aspect_ratio"),
    ("polygon width 100", lambda c: c.inpaint("job", 0, {"areas": [{**POLYGON, "width": 100}]}), "width"),
    ("empty prompt", lambda c: c.diffusion(""), "text"),
    ("8193-char prompt", lambda c: c.diffusion("a" * 8193), "text"),
    ("non-http url", lambda c: c.describe("ftp://example.com/a.png"), "imgUrl"),
    ("non-http blend url", lambda c: c.blend([IMG, "file:///etc/passwd"]), "imgUrls"),
    ("videoType 2", lambda c: c.video_diffusion(prompt=f"{IMG} waves", video_type=2), "videoType"),
    ("videoNo 4", lambda c: c.video_upscale("job", 4), "videoNo"),
    ("enhance_upscale both modes", lambda c: c.enhance_upscale(image_url=IMG, job_id="job", image_no=0), "jobId"),
    ("enhance_upscale neither", lambda c: c.enhance_upscale(target_resolution="2K"), "image_url"),
    ("upscale type 4", lambda c: c.upscale("job", 0, 4), "type"),
    ("empty jobId", lambda c: c.reroll(""), "jobId"),
    ("bad callback", lambda c: c.diffusion("a fox", callback="javascript:alert(1)"), "callback"),
]


@pytest.mark.parametrize(("call", "field"), [(c, f) for _, c, f in INVALID], ids=[i for i, _, _ in INVALID])
async def test_invalid_requests_are_refused_before_sending(
    client: LegnextClient, sim: Simulator, call: Callable[[LegnextClient], Awaitable[m.Job]], field: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        await call(client)
    assert isinstance(info.value, ValueError)
    assert field in info.value.message
    assert field in info.value.field or info.value.field.endswith("Upscale")
    assert sim.count("POST") == 0
    assert sim.requests == []


async def test_invalid_job_id_for_get_job_is_not_sent(client: LegnextClient, sim: Simulator) -> None:
    for bad in ("", "../account/balance"):
        with pytest.raises(InvalidRequest, match="job_id"):
            await client.get_job(bad)
    assert sim.requests == []


# ------------------------------------------------------------------------------------------------ 3. error classes


async def test_400_bad_request(client: LegnextClient, sim: Simulator) -> None:
    with pytest.raises(BadRequest) as info:
        await client.diffusion("a fox --v 5")
    assert info.value.status == 400
    assert "model version 5 is not supported" in info.value.message
    assert sim.count("POST", "/v1/diffusion") == 1
    assert sim.jobs == {}


async def test_401_wrong_key() -> None:
    async with running_simulator(api_key="right") as sim, make_client(sim.base_url, api_key="wrong") as c:
        with pytest.raises(AuthError) as info:
            await c.diffusion("a fox")
        assert info.value.status == 401 and info.value.message == "Failed to verify api key"
        with pytest.raises(AuthError):
            await c.balance()
        assert sim.count("POST") == 1 and sim.count("GET") == 1  # neither is retried
        async with make_client(sim.base_url, api_key="right") as good:
            assert (await good.diffusion("a fox")).job_id in sim.jobs


async def test_402_out_of_credits() -> None:
    async with running_simulator(balance=50) as sim, make_client(sim.base_url) as c:
        with pytest.raises(OutOfCredits) as info:
            await c.diffusion("a fox")
        assert info.value.status == 402 and info.value.message == "insufficient balance"
        assert info.value.raw_message == "balance 50 points, task needs 80"
        assert sim.count("POST") == 1 and sim.jobs == {}
        # a draft costs 40 and still fits
        assert (await c.diffusion("a fox --v 7 --draft")).usage.frozen == 40


async def test_403_content_refused(client: LegnextClient, sim: Simulator) -> None:
    sim.refused_words = {"forbidden"}
    with pytest.raises(ContentRefused) as info:
        await client.diffusion("a Forbidden picture")
    assert info.value.status == 403 and "sensitive content" in info.value.message
    assert sim.count("POST") == 1 and sim.jobs == {}


async def test_404_unknown_and_aged_job(client: LegnextClient, sim: Simulator) -> None:
    with pytest.raises(NotFound) as info:
        await client.upscale("no-such-job", 0, 0)
    assert info.value.status == 404 and info.value.message == "job not found"

    pid = await grid(client, sim)
    await client.upscale(pid, 0, 0)  # inside the window: accepted
    sim.age_job(pid, 4)
    with pytest.raises(NotFound) as info:
        await client.variation(pid, 0, 1)
    assert "outside the operation window" in info.value.message
    assert sim.count("POST", "/v1/variation") == 1


@pytest.mark.parametrize(("status", "cls"), [(413, TooLarge), (422, BadRequest), (400, BadRequest)])
async def test_injected_client_errors(
    client: LegnextClient, sim: Simulator, status: int, cls: type[LegnextError]
) -> None:
    sim.inject_error(status, f"injected {status} message", path="/v1/describe")
    with pytest.raises(cls) as info:
        await client.describe(IMG)
    assert type(info.value) is cls
    assert info.value.status == status and info.value.code == status
    assert info.value.message == f"injected {status} message"
    assert sim.count("POST") == 1


async def test_429_on_submit_after_retries_raises_rate_limited(client: LegnextClient, sim: Simulator) -> None:
    sim.inject_error(429, "concurrent limit reached", count=SUBMIT_429_RETRIES + 5, retry_after=0.05)
    with pytest.raises(RateLimited) as info:
        await client.diffusion("a fox")
    assert info.value.status == 429 and info.value.message == "concurrent limit reached"
    assert info.value.retry_after == pytest.approx(0.05)
    assert sim.count("POST", "/v1/diffusion") == 1 + SUBMIT_429_RETRIES
    assert sim.jobs == {}


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_on_submit_is_outcome_unknown_and_not_retried(
    client: LegnextClient, sim: Simulator, status: int
) -> None:
    sim.inject_error(status, "upstream exploded", count=5, create_job=True)
    with pytest.raises(SubmitOutcomeUnknown) as info:
        await client.diffusion("a fox")
    assert not isinstance(info.value, ServerError)
    assert info.value.status == status
    assert "upstream exploded" in info.value.message
    assert sim.count("POST") == 1
    assert len(sim.jobs) == 1  # the job was made (and billed) even though the answer was an error


# ------------------------------------------------------------------------------------------------ 4. both error shapes


@pytest.mark.parametrize(
    ("status", "cls"), [(400, BadRequest), (401, AuthError), (402, OutOfCredits), (403, ContentRefused),
                        (404, NotFound), (413, TooLarge), (422, BadRequest)]
)
async def test_flat_and_envelope_error_bodies_agree(
    client: LegnextClient, sim: Simulator, status: int, cls: type[LegnextError]
) -> None:
    seen: list[tuple[type[LegnextError], int, str]] = []
    for shape in ("flat", "envelope"):
        sim.inject_error(status, "Your prompt was refused: reason X", path="/v1/shorten", shape=shape)
        with pytest.raises(LegnextError) as info:
            await client.shorten("a fox")
        seen.append((type(info.value), info.value.status, info.value.message))
    assert seen[0] == seen[1] == (cls, status, "Your prompt was refused: reason X")
    assert sim.count("POST") == 2


async def test_envelope_error_in_a_200_answer_is_raised(sim: Simulator) -> None:
    """A 2xx body that is the failed envelope (job_id "", error.code 403) must not pass as a job."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"job_id": "", "model": "", "task_type": "", "status": "failed",
                                         "output": None, "meta": None,
                                         "error": {"code": 403, "message": "not allowed for this account"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        c = LegnextClient(base_url="http://legnext.invalid/api", api_key=KEY, http=http)
        with pytest.raises(ContentRefused, match="not allowed for this account"):
            await c.edit("job", 0, {"width": 10, "height": 10}, {"width": 5, "height": 5, "x": 0, "y": 0}, "x")


@contextlib.asynccontextmanager
async def odd_api(answer: Callable[[], web.StreamResponse]) -> AsyncIterator[tuple[LegnextClient, list[str]]]:
    """A local server in place of the API that gives every request `answer()`, and a client pointed at it."""
    hits: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(f"{request.method} {request.path}")
        return answer()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with make_client(f"http://127.0.0.1:{port}/api") as c:
            yield c, hits
    finally:
        await runner.cleanup()


def undecodable() -> web.StreamResponse:
    """A body httpx can't decode (a proxy that says gzip over plain bytes): httpx.DecodingError, no TransportError."""
    return web.Response(body=b"this is not gzip at all",
                        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})


async def test_an_answer_that_cannot_be_decoded_is_a_legnext_error() -> None:
    async with odd_api(undecodable) as (c, hits):
        with pytest.raises(UnexpectedResponse, match="could not be read"):
            await c.get_job("abc")
        with pytest.raises(UnexpectedResponse):
            await c.balance()
        assert len(hits) == 2  # an unreadable answer is not retried like a dropped connection
        hits.clear()
        # a submit was sent and answered: the job may exist, so it is "outcome unknown", never sent again
        with pytest.raises(SubmitOutcomeUnknown, match="may or may not have started"):
            await c.diffusion("a fox")
        assert hits == ["POST /api/v1/diffusion"]


@pytest.mark.parametrize("body", [
    {"code": 500, "message": "system busy", "data": None},
    {"code": 200, "message": "success", "data": {"balance_usd": 72.048, "available_credits": 71000}},
    {"code": 200, "message": "success", "data": {"available_credits": 0, "available_points": "n/a"}},
    {"code": 200, "data": []},
    [1, 2, 3],
])
async def test_a_balance_answer_without_readable_figures_is_not_a_balance(body: Any) -> None:
    async with odd_api(lambda: web.json_response(body)) as (c, _):
        with pytest.raises(UnexpectedResponse, match="couldn't read the balance"):
            await c.balance()


async def test_a_balance_answer_with_the_documented_quirks_is_read() -> None:
    body = {"code": "200", "data": {"available_credits": "71000", "available_points": 1048.0, "balance_usd": "72.048",
                                    "something_new": {"x": 1}}, "extra": True}
    async with odd_api(lambda: web.json_response(body)) as (c, _):
        bal = await c.balance()
    assert (bal.data.available_credits, bal.data.available_points) == (71000, 1048)
    assert bal.data.spendable_points == 72048 and bal.data.balance_usd == pytest.approx(72.048)


# ------------------------------------------------------------------------------------------------ 5./6. submit retries


async def test_submit_is_not_retried_after_a_timeout(sim: Simulator) -> None:
    sim.hang_next_submit(2.0)
    async with make_client(sim.base_url, timeout_s=0.3) as c:
        with pytest.raises(SubmitOutcomeUnknown) as info:
            await c.diffusion("a fox")
    assert "may or may not have started" in info.value.message
    assert sim.count("POST", "/v1/diffusion") == 1
    assert len(sim.jobs) == 1  # and it WAS created: resubmitting would have made (and billed) a second one


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_submit_that_never_reached_the_server_is_retried() -> None:
    transport = CountingTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        c = make_client(f"http://127.0.0.1:{closed_port()}/api", http=http)
        with pytest.raises(TransportError) as info:
            await c.diffusion("a fox")
        assert not isinstance(info.value, SubmitOutcomeUnknown)
        assert "cannot connect" in info.value.message
        assert transport.calls == READ_RETRIES + 1
        # get_job is retried the same way
        transport.calls = 0
        with pytest.raises(TransportError):
            await c.get_job("abc")
        assert transport.calls == READ_RETRIES + 1


async def test_submit_refused_with_429_is_retried_and_succeeds(client: LegnextClient, sim: Simulator) -> None:
    sim.inject_error(429, count=1, retry_after=0.05)
    job = await client.diffusion("a fox")
    assert job.job_id in sim.jobs and len(sim.jobs) == 1
    assert sim.count("POST", "/v1/diffusion") == 2
    assert [r.status for r in sim.requests] == [429, 200]


# ------------------------------------------------------------------------------------------------ 7. GET retries


async def test_get_retried_after_500(client: LegnextClient, sim: Simulator) -> None:
    pid = (await client.diffusion("a fox")).job_id
    sim.inject_error(500, method="GET", count=2)
    job = await client.get_job(pid)
    assert job.job_id == pid
    assert sim.count("GET", f"/v1/job/{pid}") == 3
    assert [r.status for r in sim.requests if r.method == "GET"] == [500, 500, 200]


async def test_get_retried_after_429_with_retry_after(client: LegnextClient, sim: Simulator) -> None:
    sim.inject_error(429, method="GET", count=1, retry_after=0.2, path="/account/balance")
    started = time.monotonic()
    bal = await client.balance()
    # Retry-After was honoured: plain backoff here is at most backoff_cap_s = 0.05 s
    assert time.monotonic() - started >= 0.2
    assert bal.data.available_points == 100_000
    assert sim.count("GET", "/account/balance") == 2


async def test_retry_after_is_capped(sim: Simulator) -> None:
    sim.inject_error(429, method="GET", count=1, retry_after=30)
    async with make_client(sim.base_url, max_retry_after_s=0.01) as c:
        started = time.monotonic()
        await c.balance()
    assert time.monotonic() - started < 2.0
    assert sim.count("GET") == 2


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None and parse_retry_after("") is None
    assert parse_retry_after("1.5") == 1.5 and parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    future = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(future) == pytest.approx(30, abs=2)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


async def test_get_persistent_500_raises_server_error(client: LegnextClient, sim: Simulator) -> None:
    pid = (await client.diffusion("a fox")).job_id
    sim.inject_error(503, "maintenance", method="GET", count=READ_RETRIES + 5)
    with pytest.raises(ServerError) as info:
        await client.get_job(pid)
    assert info.value.status == 503 and info.value.message == "maintenance"
    assert sim.count("GET") == READ_RETRIES + 1


async def test_get_404_is_not_retried(client: LegnextClient, sim: Simulator) -> None:
    with pytest.raises(NotFound) as info:
        await client.get_job("0b5c0a5e-0000-0000-0000-000000000000")
    assert info.value.message == "job not found"
    assert sim.count("GET") == 1


# ------------------------------------------------------------------------------------------------ 8. key secrecy


async def test_api_key_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with running_simulator(api_key=SECRET_KEY) as sim:
        c = make_client(sim.base_url, api_key=SECRET_KEY)
        assert SECRET_KEY not in repr(c) and SECRET_KEY not in str(c)
        job = await c.diffusion("a fox")  # succeeding calls
        await c.get_job(job.job_id)
        await c.balance()
        assert sim.requests[0].headers["x-api-key"] == SECRET_KEY  # the key did travel, in the header
        sim.inject_error(500, count=2, method="GET")
        await c.get_job(job.job_id)  # retried (and logged)
        failing: list[Callable[[], Awaitable[Any]]] = [
            lambda: c.upscale("missing", 0, 0),
            lambda: c.diffusion(""),
        ]
        sim.inject_error(502, count=1, path="/v1/diffusion")
        failing.append(lambda: c.diffusion("a fox"))
        for call in failing:
            with pytest.raises(LegnextError) as info:
                await call()
            errors.append(info.value)
        await c.aclose()
        async with make_client(sim.base_url, api_key="sk-another-wrong-key-xyz") as wrong:
            with pytest.raises(AuthError) as auth:
                await wrong.balance()
            errors.append(auth.value)
    async with make_client(f"http://127.0.0.1:{closed_port()}/api", api_key=SECRET_KEY) as dead:
        with pytest.raises(TransportError) as info:
            await dead.balance()
        errors.append(info.value)
        assert SECRET_KEY not in repr(dead)

    assert len(errors) == 5
    for err in errors:
        assert SECRET_KEY not in str(err) and SECRET_KEY not in repr(err)
        assert SECRET_KEY not in str(err.__cause__) and SECRET_KEY not in str(err.__context__)
    assert "sk-another-wrong-key-xyz" not in str(errors[3]) + repr(errors[3])
    assert len(caplog.records) > 5  # the client, httpx and the simulator did log
    assert any("retrying GET" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + str(record.exc_text or "")
        assert SECRET_KEY not in text, record


# ------------------------------------------------------------------------------------------------ 9. job lifecycle


async def test_job_lifecycle_pending_then_completed(client: LegnextClient, sim: Simulator) -> None:
    first = await client.diffusion("a fox --v 7")  # seq 1: zero timestamps
    second = await client.diffusion("a cat --v 7")  # seq 2: "" timestamps

    # the raw JSON really has both forms of "not yet"
    raw1, raw2 = sim.job_json(first.job_id), sim.job_json(second.job_id)
    assert raw1["meta"]["started_at"] == raw1["meta"]["ended_at"] == ZERO_TIME
    assert raw2["meta"]["started_at"] == raw2["meta"]["ended_at"] == ""
    assert second.meta is not None and second.meta.created_at is None  # the submit answer had created_at ""

    for jid in (first.job_id, second.job_id):
        job = await client.get_job(jid)
        assert job.status == "pending" and job.running and not job.completed and not job.failed
        assert job.meta is not None
        assert job.meta.created_at is not None
        assert job.meta.started_at is None and job.meta.ended_at is None
        assert job.output is not None
        assert job.output.image_url is None and job.output.image_urls is None and job.output.seed is None
        assert job.output.available_actions is None
        assert job.error is not None and job.error.code == 0 and job.error_text == ""
        assert job.usage.frozen == 80 and job.usage.consume == 0

    sim.complete_now(first.job_id)
    done = await client.get_job(first.job_id)
    assert done.status == "completed" and done.completed and done.finished and not done.running
    assert not done.failed and done.error_text == ""
    assert done.output is not None
    assert len(done.output.images()) == 4
    assert done.output.image_url is not None and done.output.image_url.endswith("grid.png")
    assert done.output.seed is not None and done.output.seed.isdigit()
    assert done.output.seed == sim.jobs[first.job_id].seed
    assert done.output.action_indexes("upscale") == {0, 1, 2, 3}
    assert done.output.action_indexes("reroll") == {0}
    assert done.output.action_indexes("enhance") == set()
    assert done.meta is not None and done.meta.started_at is not None and done.meta.ended_at is not None
    assert done.meta.created_at is not None and done.meta.created_at <= done.meta.ended_at
    assert done.usage.consume == 80


async def test_failed_job(client: LegnextClient, sim: Simulator) -> None:
    sim.fail_next_job("task failed", raw_message="midjourney: banned prompt detected", code=500)
    job = await client.diffusion("a fox")
    sim.time_scale = 2000.0
    done = await wait_finished(client, job.job_id)
    assert done.status == "failed" and done.failed and done.finished and not done.completed and not done.running
    assert done.error is not None and done.error.code == 500 and done.error.message == "task failed"
    assert done.error_text == "midjourney: banned prompt detected"
    assert done.usage.consume == 0 and done.usage.frozen == 80
    assert done.output is not None and done.output.images() == []
    assert sim.balance == 100_000  # refunded
