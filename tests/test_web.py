"""The bot's web server: Legnext's callbacks (a hint, confirmed with the API), /healthz and /metrics."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.web.server import CALLBACK_PREFIX
from tests.harness import H, harness


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def web_sections(port: int, callbacks: bool = True) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    return {"listen": f"127.0.0.1:{port}", "public_url": base if callbacks else ""}


async def http(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as resp:
        text = await resp.text()
        try:
            return resp.status, await resp.json(content_type=None)
        except ValueError:
            return resp.status, text


# slow polling: without a callback, a result would wait for a poll many seconds away
SLOW_POLLS = {"poll_min_s": 4.0, "poll_max_s": 8.0, "status_edit_interval_s": 0.0}


async def test_a_callback_delivers_the_result_at_once(tmp_path: Path) -> None:
    port = free_port()
    async with harness(tmp_path, web=web_sections(port), jobs=SLOW_POLLS,
                       sim_kwargs={"durations": {"diffusion": 1.5}}) as h:
        inter = await h.imagine("a lantern at night")
        assert (await inter.wait_done()).content.startswith("Started: ")
        (submit,) = [r for r in h.sim.requests if r.method == "POST"]
        token = h.bot.callback_token
        assert token and submit.json["callback"] == f"http://127.0.0.1:{port}{CALLBACK_PREFIX}{token}"
        msg = await h.result(lambda m: "lantern" in m.content and bool(m.attachments), wait_s=10)
        job = h.sim.jobs[submit_job_id(h)]
        assert job.ended_at is not None
        delay = time.time() - job.ended_at.timestamp()
        assert delay < 3.0, f"shown {delay:.1f}s after the job ended: it waited for a poll"
        assert len(h.sim.callbacks_sent) == 1 and msg.buttons()
        assert h.bot.metrics.registry.get_sample_value("mjbot_callbacks_total", {"outcome": "accepted"}) == 1


def submit_job_id(h: H) -> str:
    (job_id,) = list(h.sim.jobs)
    return job_id


async def test_forged_callbacks_change_nothing(tmp_path: Path) -> None:
    port = free_port()
    async with harness(tmp_path, web=web_sections(port), jobs=SLOW_POLLS) as h:
        h.sim.keep_stuck()
        inter = await h.imagine("a stubborn mule")
        assert (await inter.wait_done()).content.startswith("Started: ")
        job_id = submit_job_id(h)
        url = f"http://127.0.0.1:{port}{CALLBACK_PREFIX}"
        token = h.bot.callback_token
        forged = {"timestamp": 1, "data": {"job_id": job_id, "status": "completed",
                                           "output": {"image_url": "https://evil.example/x.png"}}}
        assert (await http("POST", url + "wrong-token", json=forged))[0] == 404
        assert (await http("POST", url + str(token), json={"data": {"job_id": "nope"}}))[0] == 404
        assert (await http("POST", url + str(token), data=b"{not json"))[0] == 400
        assert (await http("POST", url + str(token), data=b"x" * (300 * 1024)))[0] == 413
        reads = h.sim.count("GET", "/v1/job/")
        # the right token, the API still says "processing": the body's "completed" is not believed
        assert (await http("POST", url + str(token), json=forged))[0] == 202
        await h.fake.wait_for(lambda: h.sim.count("GET", "/v1/job/") > reads, timeout=5, what="a confirming read")
        await asyncio.sleep(0.3)
        (job,) = await h.bot.jobs_repo.all()
        assert job.status in ("pending", "processing") and job.output is None
        assert not [m for m in h.fake.messages.values() if m.attachments]


async def test_a_lost_callback_is_caught_by_the_safety_net_polls(tmp_path: Path) -> None:
    port = free_port()
    fast = {"poll_min_s": 0.05, "poll_max_s": 0.2, "status_edit_interval_s": 0.0}
    async with harness(tmp_path, web=web_sections(port), jobs=fast) as h:
        h.sim._start_callback = lambda job: None  # type: ignore[method-assign]  # the callback never arrives
        inter = await h.imagine("a lost letter")
        assert (await inter.wait_done()).content.startswith("Started: ")
        await h.result(lambda m: "lost letter" in m.content and bool(m.attachments), wait_s=10)
        assert h.sim.callbacks_sent == []


@pytest.mark.allow_error_logs  # discord.py logs its reconnect attempts during the outage as errors
async def test_healthz_follows_the_gateway_and_metrics_parse(tmp_path: Path) -> None:
    port = free_port()
    async with harness(tmp_path, web=web_sections(port, callbacks=False)) as h:
        base = f"http://127.0.0.1:{port}"
        status, body = await http("GET", base + "/healthz")
        assert status == 200 and body == {"ok": True, "gateway": "connected", "database": "writable",
                                          "legnext": "reachable"}
        h.fake.gateway_down = True
        await h.fake.disconnect_all(code=4000)
        status, body = await http("GET", base + "/healthz")
        assert status == 503 and body["gateway"] == "disconnected"
        h.fake.gateway_down = False

        async def healthy() -> bool:
            return (await http("GET", base + "/healthz"))[0] == 200
        await h.fake.wait_for(healthy, timeout=30, what="the gateway back")

        def families() -> dict[str, Any]:
            return {f.name: f for f in text_string_to_metric_families(text)}

        status, text = await http("GET", base + "/metrics")
        assert status == 200
        before = families()
        assert "mjbot_deliveries" in before and "mjbot_api_requests" in before
        inter = await h.imagine("a counted cat")
        assert (await inter.wait_done()).content.startswith("Started: ")
        await h.result(lambda m: "counted cat" in m.content and bool(m.attachments))
        await asyncio.sleep(0.2)
        status, text = await http("GET", base + "/metrics")
        after = families()

        def value(fams: dict[str, Any], name: str, **labels: str) -> float:
            return sum(s.value for s in fams[name].samples
                       if s.name.endswith("_total") or s.name == name
                       if all(s.labels.get(k) == v for k, v in labels.items()))
        assert value(after, "mjbot_deliveries") == value(before, "mjbot_deliveries") + 1
        assert value(after, "mjbot_api_requests", endpoint="diffusion", status="200") == 1
        assert value(after, "mjbot_jobs", status="completed", family="image") == 1
        assert value(after, "mjbot_points_consumed") == 80
