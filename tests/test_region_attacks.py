"""Vary (Region)'s web editor, attacked and used on a phone: each test here shows a defect (issue 12's review).

Reuses the helpers of tests/test_region_editor_e2e.py (the harness with a web server, the link from the press,
headless Chromium driven through Playwright with Debian's chromium)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import bot.legnext.simulator.http as sim_http
from bot.core.media import image_size
from bot.legnext.simulator.media import make_png
from tests.harness import ALICE
from tests.test_queue_limits_e2e import harness_limits
from tests.test_region_editor_e2e import (
    IMAGE,
    api_calls,
    browser,
    canvas_box,
    editor_harness,
    editor_link,
    get,
    good_body,
    image_shown,
    inpaints,
    open_page,
    post,
    upscaled,
)

# ------------------------------------------------------------------------------------------------ helpers

ORIGINAL_PNG = make_png


async def raw_post(port: int, path: str, body: bytes, *, split_at: int, pause_s: float) -> tuple[int, Any]:
    """A POST whose body arrives in two parts `pause_s` apart, as from a phone on a slow network (the second TCP
    flight of a body larger than the first congestion window) or from a proxy that streams the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    writer.write(head + body[:split_at])
    await writer.drain()
    await asyncio.sleep(pause_s)
    writer.write(body[split_at:])
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    payload = data.split(b"\r\n\r\n", 1)[1]
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload


def circle(cx: float, cy: float, r: float, n: int) -> list[int]:
    out: list[int] = []
    for i in range(n):
        a = 2 * math.pi * i / n
        out += [round(cx + r * math.cos(a)), round(cy + r * math.sin(a))]
    return out


# ------------------------------------------------------------------------------------------------ the body

async def test_a_body_that_arrives_in_two_parts_is_read_whole(tmp_path: Path) -> None:
    """Eight lasso regions (what the page sends for eight careful lassos, ~15 KB) arriving in two TCP flights.
    `request.content.read(MAX_BODY + 1)` returns what has arrived so far, so the bot parses half a body."""
    async with editor_harness(tmp_path) as (h, port):
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        await open_page(url)
        areas = [circle(100 + 130 * (i % 8), 200 + 300 * (i // 8), 60, 190) for i in range(8)]
        body = json.dumps({"prompt": "a snowy owl", "width": IMAGE[0], "height": IMAGE[1], "areas": areas}).encode()
        assert 10_000 < len(body) < 64 * 1024  # well under the page's limit
        path = "/" + url.split("/", 3)[3]
        status, answer = await raw_post(port, path, body, split_at=len(body) // 2, pause_s=0.3)
        assert status == 200 and answer["ok"], (status, answer)
        assert len(inpaints(h)) == 1


# ------------------------------------------------------------------------------------------------ the page on screens

async def test_the_whole_image_fits_the_screen_to_draw_on(tmp_path: Path) -> None:
    """A square upscale (the default --ar 1:1, 1024 x 1024) on a 1366 x 768 laptop and on a phone held sideways:
    the image is drawn 912 CSS pixels tall, taller than the screen. A rectangle can't be dragged across it (the
    pointer is captured by the canvas, the page doesn't scroll while drawing), and on the phone the only places a
    finger can scroll the page are the 24-pixel margins (`touch-action: none` on the canvas)."""
    async with editor_harness(tmp_path) as (h, _port), browser() as b:
        h.sim.upscale_size = (1024, 1024)
        up, _g = await upscaled(h, "a red fox in the snow")
        url = await editor_link(h, up)
        for viewport, touch in (({"width": 1366, "height": 768}, False), ({"width": 844, "height": 390}, True)):
            context = await b.new_context(viewport=viewport, has_touch=touch, is_mobile=touch)
            page = await context.new_page()
            await page.goto(url)
            await image_shown(page)
            box = await canvas_box(page)
            await context.close()
            assert box["height"] <= viewport["height"], (viewport, box)


async def test_what_the_page_lets_a_member_draw_the_bot_accepts(tmp_path: Path) -> None:
    """The page takes 20 regions of up to 200 lasso points each (region.js MAX_REGIONS, MAX_LASSO_POINTS: 4000
    points), the bot at most 2000 points together (regions.py MAX_TOTAL_POINTS). Eleven detailed lassos (a jagged
    outline traced around hair or foliage) are drawn without a word from the page, then refused on submission."""
    async with editor_harness(tmp_path) as (h, _port), browser() as b:
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        page = await b.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(url)
        await image_shown(page)
        box = await canvas_box(page)
        await page.click("#tool-lasso")
        cdp = await page.context.new_cdp_session(page)

        async def mouse(kind: str, x: float, y: float) -> None:
            await cdp.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1,
                                                        "clickCount": 1})

        for band in range(11):
            x0, y0 = box["x"] + 10, box["y"] + 10 + band * 50
            outline = [(x0 + 4 * i, y0 + (10 if i % 2 else 0)) for i in range(1, 190)]  # a jagged top edge,
            outline += [(x0 + 4 * 189, y0 + 40), (x0, y0 + 40), (x0, y0 + 1)]  # then straight back
            await mouse("mousePressed", x0, y0)
            await asyncio.gather(*[mouse("mouseMoved", x, y) for x, y in outline])  # sent in order, not awaited
            await mouse("mouseReleased", x0, y0 + 1)
        assert await page.inner_text("#count") == "11 regions marked."
        assert await page.is_enabled("#submit")  # the page raised no objection
        await page.click("#submit")
        await page.wait_for_selector("#status.ok, #status.error")
        assert await page.get_attribute("#status", "class") == "ok", await page.inner_text("#status")


# ------------------------------------------------------------------------------------------------ who submits

async def test_a_role_taken_away_after_the_press_stops_the_submission(tmp_path: Path) -> None:
    """The server lets only "artists" use the bot. Alice, an artist, presses Vary (Region); a moderator then takes
    the role away (or kicks her). The page's submission is checked against the member as she was at the press (the
    `member_json` kept with the link), so for 15 minutes she still spends the server's budget."""
    async with editor_harness(tmp_path) as (h, _port):
        artists = h.fake.add_role("artists")
        h.fake.add_member(ALICE, "alice", roles=[artists])
        async with harness_limits(h, allowed_role_ids=[artists]):
            up, _g = await upscaled(h)
            url = await editor_link(h, up)
            await open_page(url)
            h.fake.add_member(ALICE, "alice", roles=[])  # the role is taken away
            await asyncio.sleep(0.2)
            before = api_calls(h)
            status, answer = await post(url, good_body())
            assert status == 403 and not answer["ok"], (status, answer)
            assert api_calls(h) == before


# ------------------------------------------------------------------------------------------------ the image

def noisy_png(width: int, height: int, tiles: tuple[Any, ...], columns: int = 1) -> bytes:
    """A photo-like PNG: noise doesn't compress, so a 1200 x 800 upscale weighs ~2.9 MB."""
    if width * height < 100_000:
        return ORIGINAL_PNG(width, height, tiles, columns)
    raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


async def test_an_upscale_larger_than_the_download_cap_can_still_be_edited(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An upscale heavier than `jobs.max_download_mb` is linked, not re-hosted, and the editor proxies the API's
    copy under the same cap: the page answers 503 "reload this page in a moment", which can never work (a
    permanent condition told as a passing one), and the member has no way to vary a region of that image."""
    monkeypatch.setattr(sim_http, "make_png", noisy_png)
    async with editor_harness(tmp_path, jobs={"max_download_mb": 1}) as (h, _port):
        up, _g = await upscaled(h)
        assert not up.attachments  # too large to re-host: linked
        url = await editor_link(h, up)
        status, text, _ = await get(url)
        assert status == 200 and 'id="editor"' in text, (status, text[-400:])
        # the image itself is streamed through whole (over the re-hosting cap, under the editor's own), and the
        # regions drawn on it start the job
        async with aiohttp.ClientSession() as s, s.get(url + "/image") as r:
            assert r.status == 200 and r.headers["Content-Type"] == "image/png"
            data = await r.read()
        assert len(data) > 1024 * 1024 and image_size(data) == IMAGE
        status, answer = await post(url, good_body())
        assert status == 200 and answer["ok"], answer
