"""Tests of the local Legnext API simulator (bot.legnext.simulator)."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.legnext.simulator import ZERO_TIME, Simulator, running_simulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = 1000.0  # diffusion 35 s -> 35 ms


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_simulator(time_scale=FAST) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.base_url, headers={"x-api-key": "test-key"}, timeout=5) as c:
        yield c


async def wait_status(client: httpx.AsyncClient, job_id: str, *statuses: str) -> dict[str, Any]:
    """Poll GET /v1/job until the job reaches one of ``statuses`` (default: a final one), 2 s at most."""
    wanted = statuses or ("completed", "failed")
    async with asyncio.timeout(2.0):
        while True:
            resp = await client.get(f"/v1/job/{job_id}")
            assert resp.status_code == 200, resp.text
            job: dict[str, Any] = resp.json()
            if job["status"] in wanted:
                return job
            await asyncio.sleep(0.01)


async def imagine(client: httpx.AsyncClient, text: str = "a red fox in the snow --v 7") -> dict[str, Any]:
    resp = await client.post("/v1/diffusion", json={"text": text})
    assert resp.status_code == 200, resp.text
    return await wait_status(client, resp.json()["job_id"], "completed")


def png_info(data: bytes) -> tuple[int, int, tuple[int, int, int]]:
    """(width, height, colour of the top-left pixel) of an RGB PNG made by the simulator."""
    assert data.startswith(PNG_SIGNATURE)
    pos = len(PNG_SIGNATURE)
    width = height = 0
    idat = b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        if tag == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif tag == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    return width, height, (raw[1], raw[2], raw[3])


# ---------------------------------------------------------------------------------------------


async def test_auth_401() -> None:
    async with running_simulator(api_key="secret", time_scale=FAST) as s:
        async with httpx.AsyncClient(base_url=s.base_url) as c:
            for headers in ({}, {"x-api-key": ""}, {"x-api-key": "wrong"}):
                resp = await c.post("/v1/diffusion", json={"text": "cat"}, headers=headers)
                assert resp.status_code == 401
                assert resp.json() == {
                    "code": 401,
                    "message": "Failed to verify api key",
                    "raw_message": "",
                    "detail": None,
                }
            resp = await c.get("/account/balance", headers={"x-api-key": "wrong"})
            assert resp.status_code == 401
            resp = await c.get("/account/balance", headers={"x-api-key": "secret"})
            assert resp.status_code == 200
            assert s.jobs == {}
    async with running_simulator() as s2, httpx.AsyncClient(base_url=s2.base_url) as c:
        assert (await c.get("/account/balance")).status_code == 401
        assert (await c.get("/account/balance", headers={"x-api-key": "anything"})).status_code == 200


async def test_diffusion_pending_shape(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.time_scale = 1.0
    resp = await client.post("/v1/diffusion", json={"text": "a lighthouse at dawn"})
    assert resp.status_code == 200
    job = resp.json()
    assert set(job) == {
        "job_id",
        "model",
        "task_type",
        "status",
        "config",
        "input",
        "output",
        "meta",
        "detail",
        "logs",
        "error",
    }
    assert job["status"] == "pending"
    assert job["model"] == "midjourney" and job["task_type"] == "diffusion"
    assert job["config"] == {"service_mode": "public", "webhook_config": {"endpoint": "", "secret": ""}}
    assert job["input"] is None and job["detail"] is None and job["logs"] == []
    assert job["output"] == {"image_url": "", "image_urls": None, "seed": ""}
    assert job["meta"]["started_at"] in ("", ZERO_TIME)
    assert job["meta"]["ended_at"] in ("", ZERO_TIME)
    assert job["meta"]["usage"] == {"type": "point", "frozen": 80, "consume": 0}
    assert job["error"] == {"code": 0, "raw_message": "", "message": "", "detail": None}
    stored = sim.jobs[job["job_id"]]
    assert stored.task_type == "diffusion" and stored.prompt == "a lighthouse at dawn"
    assert stored.payload == {"text": "a lighthouse at dawn"}
    assert sim.balance == 100_000 - 80
    # the second job uses the other "not started" style
    second = (await client.post("/v1/diffusion", json={"text": "another"})).json()
    styles = {job["meta"]["started_at"], second["meta"]["started_at"]}
    assert styles == {"", ZERO_TIME}
    assert sim.count("POST", "/v1/diffusion") == 2


async def test_lifecycle_to_completed_with_pngs(client: httpx.AsyncClient, sim: Simulator) -> None:
    job = await imagine(client)
    out = job["output"]
    assert len(out["image_urls"]) == 4
    assert out["seed"].isdigit()
    assert out["available_actions"] == {
        "edit": [0, 1, 2, 3],
        "inpaint": [0, 1, 2, 3],
        "outpaint": [0, 1, 2, 3],
        "pan": [0, 1, 2, 3],
        "remix": [0, 1, 2, 3],
        "reroll": True,
        "upscale": [0, 1, 2, 3],
        "variation": [0, 1, 2, 3],
    }
    assert job["meta"]["usage"] == {"type": "point", "frozen": 80, "consume": 80}
    assert job["meta"]["created_at"].endswith("Z") and job["meta"]["ended_at"].endswith("Z")
    assert "Expires=" in out["image_urls"][0] and "Signature=" in out["image_urls"][0]
    colours = set()
    async with httpx.AsyncClient() as raw:
        for url in out["image_urls"]:
            resp = await raw.get(url)
            assert resp.status_code == 200
            assert resp.headers["content-type"] == "image/png"
            assert resp.content.startswith(PNG_SIGNATURE)
            colours.add(png_info(resp.content)[2])
        grid = await raw.get(out["image_url"])
        assert grid.status_code == 200 and png_info(grid.content)[:2] == (128, 128)
        assert (await raw.get(out["image_url"].replace("grid.png", "7.png"))).status_code == 404
        assert (await raw.get(sim.base_url.replace("/api", "/files/nope/0.png"))).status_code == 404
    assert len(colours) == 4
    assert sim.jobs[job["job_id"]].status == "completed"


async def test_upscale_on_grid(client: httpx.AsyncClient, sim: Simulator) -> None:
    grid = await imagine(client)
    resp = await client.post("/v1/upscale", json={"jobId": grid["job_id"], "imageNo": 2, "type": 1})
    assert resp.status_code == 200, resp.text
    assert resp.json()["meta"]["usage"]["frozen"] == 160
    up = await wait_status(client, resp.json()["job_id"], "completed")
    out = up["output"]
    assert out["image_urls"] == [out["image_url"]]
    assert "available_actions" not in out
    stored = sim.jobs[up["job_id"]]
    assert stored.parent_job_id == grid["job_id"] and stored.image_no == 2
    async with httpx.AsyncClient() as raw:
        tile = png_info((await raw.get(grid["output"]["image_urls"][2])).content)
        big = png_info((await raw.get(out["image_url"])).content)
    assert big[2] == tile[2] and big[0] > tile[0]
    # follow-ups are addressed to the grid job, not the upscale
    resp = await client.post("/v1/variation", json={"jobId": up["job_id"], "imageNo": 0, "type": 0})
    assert resp.status_code == 400
    # ...while the grid still takes more follow-ups
    resp = await client.post("/v1/variation", json={"jobId": grid["job_id"], "imageNo": 2, "type": 1})
    assert resp.status_code == 200
    assert resp.json()["meta"]["usage"]["frozen"] == 120


async def test_pan_output_has_empty_image_url(client: httpx.AsyncClient) -> None:
    grid = await imagine(client)
    resp = await client.post("/v1/pan", json={"jobId": grid["job_id"], "imageNo": 1, "direction": 1, "scale": 1.5})
    assert resp.status_code == 200, resp.text
    pan = await wait_status(client, resp.json()["job_id"], "completed")
    assert pan["task_type"] == "pan"
    assert pan["output"]["image_url"] == ""
    assert len(pan["output"]["image_urls"]) == 4
    assert "available_actions" in pan["output"]


async def test_insufficient_balance_402() -> None:
    async with running_simulator(balance=100, time_scale=FAST) as s:
        async with httpx.AsyncClient(base_url=s.base_url, headers={"x-api-key": "k"}) as c:
            assert (await c.post("/v1/diffusion", json={"text": "one"})).status_code == 200
            resp = await c.post("/v1/diffusion", json={"text": "two"})
            assert resp.status_code == 402
            assert resp.json()["code"] == 402 and "insufficient" in resp.json()["message"]
            assert len(s.jobs) == 1 and s.balance == 20
            bal = (await c.get("/account/balance")).json()
            assert bal["code"] == 200 and bal["data"]["available_points"] == 20
            assert bal["data"]["low_balance_alert"] is True


async def test_refused_word_403(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.refused_words = {"forbidden"}
    resp = await client.post("/v1/diffusion", json={"text": "a FORBIDDEN thing"})
    assert resp.status_code == 403
    assert "sensitive" in resp.json()["message"]
    assert sim.jobs == {} and sim.balance == 100_000
    grid = await imagine(client)
    resp = await client.post("/v1/remix", json={"jobId": grid["job_id"], "imageNo": 0, "remixPrompt": "now forbidden"})
    assert resp.status_code == 403
    assert len(sim.jobs) == 1


VALIDATION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/diffusion", {}, "text"),
    ("/v1/diffusion", {"text": ""}, "text"),
    ("/v1/diffusion", {"text": "x" * 8193}, "text"),
    ("/v1/diffusion", {"text": 5}, "text"),
    ("/v1/diffusion", {"text": "cat --repeat 3"}, "text"),
    ("/v1/diffusion", {"text": "{red,blue} car"}, "text"),
    ("/v1/diffusion", {"text": "cat --chaos 500"}, "text"),
    ("/v1/diffusion", {"text": "cat", "callback": None}, "callback"),
    ("/v1/variation", {"jobId": "x", "imageNo": 4, "type": 0}, "imageNo"),
    ("/v1/variation", {"jobId": "x", "imageNo": 0, "type": 2}, "type"),
    ("/v1/upscale", {"jobId": "x", "imageNo": 0, "type": 3}, "type"),
    ("/v1/upscale", {"jobId": "x", "imageNo": True, "type": 0}, "imageNo"),
    ("/v1/pan", {"jobId": "x", "imageNo": 0, "direction": 4, "scale": 1.5}, "direction"),
    ("/v1/pan", {"jobId": "x", "imageNo": 0, "direction": 0, "scale": 3.5}, "scale"),
    ("/v1/outpaint", {"jobId": "x", "imageNo": 0, "scale": 2.5}, "scale"),
    ("/v1/blend", {"imgUrls": ["https://a/1.png"], "aspect_ratio": "1:1"}, "imgUrls"),
    ("/v1/blend", {"imgUrls": ["https://a/1.png", "https://a/2.png"], "aspect_ratio": "16:9"}, "aspect_ratio"),
    ("/v1/describe", {"imgUrl": "https://a/" + "x" * 1100}, "imgUrl"),
    ("/v1/shorten", {}, "prompt"),
    ("/v1/remix", {"jobId": "x", "imageNo": 0}, "remixPrompt"),
    (
        "/v1/inpaint",
        {"jobId": "x", "imageNo": 0, "mask": {"areas": [{"width": 100, "height": 600, "points": [1, 2, 3, 4, 5, 6]}]}},
        "mask.areas[0].width",
    ),
    (
        "/v1/inpaint",
        {"jobId": "x", "imageNo": 0, "mask": {"areas": [{"width": 600, "height": 600, "points": [1, 2, 3, 4]}]}},
        "mask.areas[0].points",
    ),
    ("/v1/edit", {"jobId": "x", "imageNo": 0, "remixPrompt": "p", "imgPos": {}}, "canvas"),
    ("/v1/video-diffusion", {"prompt": "no url here"}, "prompt"),
    ("/v1/video-diffusion", {"jobId": "x", "imageNo": 0, "videoType": 2}, "videoType"),
    ("/v1/video-diffusion", {"prompt": "https://a/1.png moving --bs 3"}, "prompt"),
    ("/v1/extend-video", {"jobId": "x", "videoNo": 7}, "videoNo"),
    ("/v1/enhance-upscale", {"image_url": "https://a/1.png", "target_resolution": "5K"}, "target_resolution"),
    ("/v1/enhance-upscale", {"image_url": "https://a/1.png", "crop_mode": "zoom"}, "crop_mode"),
    ("/v1/video-upscale", {"jobId": "x"}, "videoNo"),
    ("/v1/retexture", {"remixPrompt": "wood"}, "imgUrl"),
    ("/v1/remix", {"jobId": "x", "imageNo": 0, "remixPrompt": "p", "mode": 2}, "mode"),
    ("/v1/blend", {"imgUrls": [f"https://a/{i}.png" for i in range(6)], "aspect_ratio": "1:1"}, "imgUrls"),
    (
        "/v1/upload-paint",
        {
            "imgUrl": "https://a/1.png",
            "canvas": {"width": 1024, "height": 1024},
            "imgPos": {"width": 512, "height": 512, "x": 256, "y": 256},
            "remixPrompt": "mountains",
        },
        "mask",
    ),
]


async def test_validation_400_names_field(client: httpx.AsyncClient, sim: Simulator) -> None:
    for path, body, field in VALIDATION_CASES:
        resp = await client.post(path, json=body)
        assert resp.status_code == 400, (path, body, resp.text)
        data = resp.json()
        assert data["code"] == 400 and data["raw_message"] == "" and data["detail"] is None
        assert data["message"].startswith(field + ":"), (path, body, data["message"])
    assert sim.jobs == {}


async def test_invalid_json_and_unknown_job(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/diffusion", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert (await client.post("/v1/diffusion", json=["text"])).status_code == 400
    resp = await client.get("/v1/job/does-not-exist")
    assert resp.status_code == 404 and resp.json()["message"] == "job not found"
    resp = await client.post("/v1/upscale", json={"jobId": "does-not-exist", "imageNo": 0, "type": 0})
    assert resp.status_code == 404


async def test_follow_up_window_and_not_completed(client: httpx.AsyncClient, sim: Simulator) -> None:
    grid = await imagine(client)
    sim.age_job(grid["job_id"], 3.5)
    resp = await client.post("/v1/upscale", json={"jobId": grid["job_id"], "imageNo": 0, "type": 0})
    assert resp.status_code == 404
    assert "window" in resp.json()["message"]
    # still readable (stored 30 days)
    assert (await client.get(f"/v1/job/{grid['job_id']}")).status_code == 200
    sim.time_scale = 1.0
    fresh = (await client.post("/v1/diffusion", json={"text": "slow"})).json()
    resp = await client.post("/v1/upscale", json={"jobId": fresh["job_id"], "imageNo": 0, "type": 0})
    assert resp.status_code == 400
    assert "not completed" in resp.json()["message"]


async def test_fail_next_job_refunds(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.fail_next_job("task failed", raw_message="upstream: banned prompt", code=500)
    resp = await client.post("/v1/diffusion", json={"text": "doomed"})
    assert resp.status_code == 200
    assert sim.balance == 100_000 - 80
    job = await wait_status(client, resp.json()["job_id"])
    assert job["status"] == "failed"
    assert job["error"] == {
        "code": 500,
        "raw_message": "upstream: banned prompt",
        "message": "task failed",
        "detail": None,
    }
    assert job["output"] == {"image_url": "", "image_urls": None, "seed": ""}
    assert job["meta"]["usage"] == {"type": "point", "frozen": 80, "consume": 0}
    assert sim.balance == 100_000
    # only the next job
    ok = (await client.post("/v1/diffusion", json={"text": "fine"})).json()
    assert (await wait_status(client, ok["job_id"]))["status"] == "completed"


async def test_fail_job_stuck_and_complete_now(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.keep_stuck()
    stuck = (await client.post("/v1/diffusion", json={"text": "stuck"})).json()["job_id"]
    other = (await client.post("/v1/diffusion", json={"text": "other"})).json()["job_id"]
    await wait_status(client, other, "completed")
    await asyncio.sleep(0.08)
    assert sim.jobs[stuck].status == "processing"
    sim.complete_now(stuck)
    assert (await client.get(f"/v1/job/{stuck}")).json()["status"] == "completed"
    sim.time_scale = 1.0
    victim = (await client.post("/v1/diffusion", json={"text": "victim"})).json()["job_id"]
    sim.fail_job(victim, "unknown error, please contact support")
    job = (await client.get(f"/v1/job/{victim}")).json()
    assert job["status"] == "failed" and job["error"]["message"] == "unknown error, please contact support"
    assert sim.balance == 100_000 - 160


async def test_concurrency_limit_queues(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.time_scale = 1.0
    sim.pending_for = 0.0
    ids = [(await client.post("/v1/diffusion", json={"text": f"job {i}"})).json()["job_id"] for i in range(8)]
    statuses = [sim.jobs[i].status for i in ids]
    assert statuses.count("processing") == 6
    assert statuses[6:] == ["pending", "pending"]
    sim.complete_now(ids[0])
    assert sim.jobs[ids[6]].status == "processing"


async def test_inject_error_shapes(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.inject_error(500, "boom")
    resp = await client.post("/v1/diffusion", json={"text": "x"})
    assert resp.status_code == 500
    assert resp.json() == {"code": 500, "message": "boom", "raw_message": "", "detail": None}
    sim.inject_error(403, "not allowed", shape="envelope", path="/v1/edit")
    assert (await client.post("/v1/diffusion", json={"text": "x"})).status_code == 200  # path did not match
    resp = await client.post("/v1/edit", json={})
    assert resp.status_code == 403
    env = resp.json()
    assert env["job_id"] == "" and env["status"] == "failed" and env["task_type"] == ""
    assert env["output"] is None and env["meta"] is None
    assert env["error"]["code"] == 403 and env["error"]["message"] == "not allowed"
    sim.inject_error(429, count=2, retry_after=3)
    for _ in range(2):
        resp = await client.post("/v1/diffusion", json={"text": "x"})
        assert resp.status_code == 429 and resp.headers["retry-after"] == "3"
    sim.inject_error(503, method="GET", path="/v1/job/")
    assert (await client.get("/v1/job/whatever")).status_code == 503
    assert len(sim.jobs) == 1
    # a 5xx after the side effect: the job exists and is billed
    before = sim.balance
    sim.inject_error(502, create_job=True)
    resp = await client.post("/v1/diffusion", json={"text": "created anyway"})
    assert resp.status_code == 502
    assert len(sim.jobs) == 2 and sim.balance == before - 80
    assert any(j.prompt == "created anyway" for j in sim.jobs.values())


async def test_hang_next_submit_creates_job(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.hang_next_submit(0.25, create_job=True)
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/v1/diffusion", json={"text": "slow answer"}, timeout=0.05)
    assert len(sim.jobs) == 1
    (job,) = sim.jobs.values()
    assert job.prompt == "slow answer"
    assert sim.balance == 100_000 - 80
    sim.hang_next_submit(0.05, create_job=False)
    resp = await client.post("/v1/diffusion", json={"text": "never made"})
    assert resp.status_code == 504
    assert len(sim.jobs) == 1


async def test_callback_posted() -> None:
    received: list[dict[str, Any]] = []
    got = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        got.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook/token", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/hook/token"
    try:
        async with running_simulator(time_scale=FAST) as s:
            async with httpx.AsyncClient(base_url=s.base_url, headers={"x-api-key": "k"}) as c:
                resp = await c.post("/v1/diffusion", json={"text": "with hook", "callback": url})
                assert resp.json()["config"]["webhook_config"] == {"endpoint": url, "secret": ""}
                await asyncio.wait_for(got.wait(), 2)
                # a failing receiver does not crash the simulator
                await c.post("/v1/shorten", json={"prompt": "p", "callback": "http://127.0.0.1:9/nothing"})
                for _ in range(200):
                    if len(s.callbacks_sent) == 2:
                        break
                    await asyncio.sleep(0.01)
            assert len(s.callbacks_sent) == 2
            assert s.callbacks_sent[0][0] == url
    finally:
        await runner.cleanup()
    body = received[0]
    assert isinstance(body["timestamp"], int) and body["timestamp"] > 1_600_000_000_000
    assert body["data"]["status"] == "completed"
    assert len(body["data"]["output"]["image_urls"]) == 4


async def test_model_rules(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/diffusion", json={"text": "cat --v 8.1 --no dogs"})
    assert resp.status_code == 400 and "--no" in resp.json()["message"]
    resp = await client.post("/v1/diffusion", json={"text": "cat \u2014v 8.1 --turbo"})
    assert resp.status_code == 400
    v8 = await imagine(client, "cat --version 8.1 --ar 16:9")
    assert v8["output"]["available_actions"] == {
        "edit": [0, 1, 2, 3],
        "remix": [0, 1, 2, 3],
        "reroll": True,
        "variation": [0, 1, 2, 3],
    }
    resp = await client.post("/v1/upscale", json={"jobId": v8["job_id"], "imageNo": 0, "type": 0})
    assert resp.status_code == 400
    resp = await client.post("/v1/remix", json={"jobId": v8["job_id"], "imageNo": 0, "remixPrompt": "x --no y"})
    assert resp.status_code == 400  # inherited model v8.1
    resp = await client.post("/v1/reroll", json={"jobId": v8["job_id"]})
    assert resp.status_code == 200
    # enhance only on --v 7 --draft grids
    normal = await imagine(client, "cat --v 7")
    resp = await client.post("/v1/enhance", json={"jobId": normal["job_id"], "imageNo": 0})
    assert resp.status_code == 400
    draft_resp = await client.post("/v1/diffusion", json={"text": "cat --v 7 --draft"})
    assert draft_resp.json()["meta"]["usage"]["frozen"] == 40
    draft = await wait_status(client, draft_resp.json()["job_id"], "completed")
    assert draft["output"]["available_actions"]["enhance"] == [0, 1, 2, 3]
    resp = await client.post("/v1/enhance", json={"jobId": draft["job_id"], "imageNo": 3})
    assert resp.status_code == 200
    turbo = await client.post("/v1/diffusion", json={"text": "cat --turbo"})
    assert turbo.json()["meta"]["usage"]["frozen"] == 160


async def test_describe_and_shorten(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/describe", json={"imgUrl": "https://example.com/a.png"})
    assert resp.status_code == 200
    pending = resp.json()
    assert pending["output"] == {"promptEn": "", "description": "", "finalPrompt": "", "prompts": []}
    assert pending["meta"]["usage"]["frozen"] == 20
    desc = await wait_status(client, pending["job_id"], "completed")
    out = desc["output"]
    assert len(out["prompts"]) == 4
    assert out["promptEn"].startswith("1\ufe0f\u20e3 ")
    assert "\n\n4\ufe0f\u20e3 " in out["promptEn"]
    assert out["description"]
    resp = await client.post("/v1/shorten", json={"prompt": "a very beautiful red fox sitting in the snow --ar 3:2"})
    short = await wait_status(client, resp.json()["job_id"], "completed")
    out = short["output"]
    assert len(out["prompts"]) == 5 and all(isinstance(p, str) and p for p in out["prompts"])
    assert "fox" in out["prompts"][0]
    assert "Important tokens" in out["finalPrompt"]
    assert out["description"]


async def test_video_flow(client: httpx.AsyncClient, sim: Simulator) -> None:
    sim.durations["video_diffusion"] = 35.0
    grid = await imagine(client)
    resp = await client.post(
        "/v1/video-diffusion", json={"jobId": grid["job_id"], "imageNo": 1, "prompt": "slow zoom --bs 2"}
    )
    assert resp.status_code == 200, resp.text
    pending = resp.json()
    assert pending["task_type"] == "video_diffusion"
    assert pending["output"] == {"video_urls": None, "seed": ""}
    video = await wait_status(client, pending["job_id"], "completed")
    assert len(video["output"]["video_urls"]) == 2
    assert video["output"]["available_actions"] == {"extend": [0, 1], "upscale": [0, 1]}
    async with httpx.AsyncClient() as raw:
        mp4 = await raw.get(video["output"]["video_urls"][1])
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    resp = await client.post("/v1/extend-video", json={"jobId": video["job_id"], "videoNo": 3})
    assert resp.status_code == 400
    resp = await client.post("/v1/video-upscale", json={"jobId": video["job_id"], "videoNo": 1})
    assert resp.status_code == 200 and resp.json()["task_type"] == "video_upscale"
    resp = await client.post("/v1/video-diffusion", json={"prompt": "https://example.com/a.png waves --motion high"})
    assert resp.status_code == 200 and resp.json()["meta"]["usage"]["frozen"] == 480


async def test_sim_http_knobs(client: httpx.AsyncClient, sim: Simulator) -> None:
    root = sim.base_url.removesuffix("/api")
    async with httpx.AsyncClient(base_url=root) as ctl:
        assert (await ctl.post("/_sim/refuse", json={"words": ["nope"]})).status_code == 200
        assert (await client.post("/v1/diffusion", json={"text": "nope"})).status_code == 403
        await ctl.post("/_sim/inject_error", json={"status": 429, "retry_after": 2})
        resp = await client.post("/v1/diffusion", json={"text": "fine"})
        assert resp.status_code == 429 and resp.headers["retry-after"] == "2"
        await ctl.post("/_sim/fail_next_job", json={"message": "task failed"})
        failed = (await client.post("/v1/diffusion", json={"text": "fails"})).json()["job_id"]
        assert (await wait_status(client, failed))["status"] == "failed"
        await ctl.post("/_sim/time_scale", json={"value": 1})
        assert sim.time_scale == 1.0
        await ctl.post("/_sim/stuck", json={})
        job_id = (await client.post("/v1/diffusion", json={"text": "stuck"})).json()["job_id"]
        assert sim.jobs[job_id].stuck
        assert (await ctl.post(f"/_sim/complete/{job_id}")).status_code == 200
        assert sim.jobs[job_id].status == "completed"
        assert (await ctl.post(f"/_sim/age/{job_id}", json={"days": 4})).status_code == 200
        resp = await client.post("/v1/upscale", json={"jobId": job_id, "imageNo": 0, "type": 0})
        assert resp.status_code == 404
        assert (await ctl.post("/_sim/complete/unknown")).status_code == 404
        requests = (await ctl.get("/_sim/requests")).json()
        assert requests[0]["path"] == "/v1/diffusion" and requests[0]["status"] == 403
        assert requests[0]["headers"]["x-api-key"] == "test-key"
        assert sim.count("GET", "/v1/job/") >= 1
        assert (await ctl.post("/_sim/reset")).status_code == 200
        assert sim.jobs == {} and sim.requests == [] and sim.refused_words == set()
        assert sim.balance == 100_000 and sim.time_scale == FAST


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_command_line_runs() -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot.legnext.simulator", "--port", str(port), "--time-scale", "50", "--api-key", "k"),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            for _ in range(300):
                try:
                    resp = await c.get("/_sim/state")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
            else:
                pytest.fail("simulator did not start")
            assert resp.json()["time_scale"] == 50
            assert (await c.get("/api/account/balance", headers={"x-api-key": "k"})).status_code == 200
    finally:
        proc.terminate()
        out, err = await asyncio.wait_for(proc.communicate(), 5)
    assert proc.returncode == 0
    assert out == b""
    assert b"simulator" in err
