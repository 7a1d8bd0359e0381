"""Vary (Region)'s web editor, end to end: the press answers with a link button (the fake Discord checks it), the
page is driven in headless Chromium (Debian's `chromium`, through Playwright's Python package: no browser download)
with a mouse and with touch, and the simulator receives the inpaint with the polygons drawn; refused links, hostile
bodies and paths cost nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.legnext.simulator import RecordedRequest
from cogs.imagine.editor import NOT_A_MEMBER, REFUSED, Token, sign
from cogs.imagine.regions import MAX_AREAS, MAX_POINTS, MAX_TOTAL_POINTS
from tests.harness import ALICE, BOB, CHANNEL, GUILD, H, harness
from tests.test_buttons_e2e import click, grid, posts, upscale
from tests.test_web import free_port

CHROMIUM = os.environ.get("MJBOT_CHROMIUM", "/usr/bin/chromium")
PROMPT = "a red fox in the snow --ar 3:2"
IMAGE = (1200, 800)  # the simulator's upscale: every side 500-4096, so the mask's pixels are the image's
SCREENSHOTS = os.environ.get("MJBOT_SCREENSHOTS")  # a folder: the editor's screenshots are saved there too
MANY = {"running_per_member": 50}

if shutil.which(CHROMIUM) is None and not os.environ.get("CI"):  # CI installs it (.ci/run); it must run there
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.async_api")


# ------------------------------------------------------------------------------------------------------ helpers

def web(port: int) -> dict[str, Any]:
    return {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"}


@contextlib.asynccontextmanager
async def editor_harness(tmp_path: Path, **sections: Any) -> AsyncIterator[tuple[H, int]]:
    port = free_port()
    sections.setdefault("limits", MANY)
    async with harness(tmp_path, web=web(port), **sections) as h:
        h.sim.upscale_size = IMAGE
        yield h, port


async def upscaled(h: H, prompt: str = PROMPT, n: int = 2) -> tuple[Any, str]:
    g_msg, g = await grid(h, prompt)
    return await upscale(h, g_msg, n), g


async def editor_link(h: H, up: Any, user_id: int = ALICE) -> str:
    """Press Vary (Region) under `up`: the ephemeral answer's link button."""
    inter = await click(h, up, "Vary (Region)", user_id=user_id)
    answer = await inter.wait_done()
    assert answer.ephemeral, answer
    links = answer.links()
    assert list(links) == ["Open the region editor"], answer.components
    assert not answer.buttons()[0][2]  # a link button has no custom_id
    return links["Open the region editor"]


def live(name: str) -> Any:
    """The module the running bot uses: unloading an extension (each harness does) drops its modules, and the next
    harness imports them again, so a test patches the live one, not the one it imported."""
    return sys.modules[name]


def inpaints(h: H) -> list[RecordedRequest]:
    return [r for r in posts(h) if r.path == "/v1/inpaint"]


@contextlib.asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM)
        try:
            yield b
        finally:
            await b.close()


async def until(page: Any, js: str, timeout_s: float = 10.0) -> None:
    """Wait until the expression `js` is true on the page. (Playwright's `wait_for_function` polls with `eval`,
    which the page's Content-Security-Policy rightly forbids.)"""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await page.evaluate(js):
        assert asyncio.get_running_loop().time() < deadline, f"never true: {js}"
        await asyncio.sleep(0.05)


async def image_shown(page: Any) -> None:
    await until(page, "document.getElementById('image').complete && document.getElementById('image').naturalWidth > 0")


async def canvas_box(page: Any) -> dict[str, float]:
    box = await page.eval_on_selector("#canvas", "c => { const r = c.getBoundingClientRect(); "
                                                 "return {x: r.left, y: r.top, width: r.width, height: r.height}; }")
    assert box["width"] > 0 and box["height"] > 0
    return dict(box)


def to_image(box: dict[str, float], x: float, y: float) -> tuple[float, float]:
    """CSS pixels on the page -> the image's pixels."""
    return (x - box["x"]) * IMAGE[0] / box["width"], (y - box["y"]) * IMAGE[1] / box["height"]


def pairs(points: list[int]) -> list[tuple[int, int]]:
    return list(zip(points[0::2], points[1::2], strict=True))


def assert_polygon(got: list[int], expected: list[tuple[float, float]], tolerance: float = 1.0) -> None:
    """`got` (the API's flat points) is `expected`'s vertices, in some rotation and direction, each within
    `tolerance` pixels."""
    pts = pairs(got)
    assert len(pts) == len(expected), (pts, expected)
    n = len(pts)
    for seq in (expected, expected[::-1]):
        for shift in range(n):
            if all(abs(pts[i][0] - seq[(i + shift) % n][0]) <= tolerance
                   and abs(pts[i][1] - seq[(i + shift) % n][1]) <= tolerance for i in range(n)):
                return
    raise AssertionError(f"polygon {pts} doesn't match {[(round(x, 1), round(y, 1)) for x, y in expected]}")


async def screenshot(page: Any, tmp_path: Path, name: str) -> None:
    await page.screenshot(path=str(tmp_path / name), full_page=True)
    if SCREENSHOTS:
        await asyncio.to_thread(_keep, tmp_path / name, Path(SCREENSHOTS))


def _keep(shot: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, folder / shot.name)


# ------------------------------------------------------------------------------------------------------ desktop

async def test_draw_a_rectangle_and_a_lasso_with_a_mouse(tmp_path: Path) -> None:
    async with editor_harness(tmp_path) as (h, port), browser() as b:
        up, g = await upscaled(h)
        before = len(posts(h))
        url = await editor_link(h, up)
        assert url.startswith(f"http://127.0.0.1:{port}/region/") and len(url) <= 512
        assert len(posts(h)) == before  # the link costs nothing

        page = await b.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        response = await page.goto(url)
        assert response is not None and response.status == 200
        assert "default-src 'none'" in response.headers["content-security-policy"]
        await image_shown(page)
        assert await page.input_value("#prompt") == PROMPT
        assert await page.is_disabled("#submit")  # nothing marked yet
        box = await canvas_box(page)
        assert box["width"] < IMAGE[0] * 0.9  # shown smaller than it is: CSS pixels are not the image's

        # a rectangle, dragged from bottom right to top left
        x0, y0, x1, y1 = box["x"] + 500, box["y"] + 400, box["x"] + 120, box["y"] + 60
        await page.mouse.move(x0, y0)
        await page.mouse.down()
        await page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
        await page.mouse.move(x1, y1, steps=5)
        await page.mouse.up()
        assert await page.inner_text("#count") == "1 region marked."

        # a lasso: a pentagon, drawn edge by edge with many small moves
        await page.click("#tool-lasso")
        assert await page.get_attribute("#tool-lasso", "aria-pressed") == "true"
        lasso = [(620.0, 80.0), (820.0, 160.0), (780.0, 420.0), (600.0, 520.0), (560.0, 300.0)]
        await page.mouse.move(box["x"] + lasso[0][0], box["y"] + lasso[0][1])
        await page.mouse.down()
        for x, y in [*lasso[1:], lasso[0]]:
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=12)
        await page.mouse.up()
        assert await page.inner_text("#count") == "2 regions marked."

        # undo and draw it again: undo works
        await page.click("#undo")
        assert await page.inner_text("#count") == "1 region marked."
        await page.mouse.move(box["x"] + lasso[0][0], box["y"] + lasso[0][1])
        await page.mouse.down()
        for x, y in [*lasso[1:], lasso[0]]:
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=12)
        await page.mouse.up()

        await page.fill("#prompt", "a snowy owl on a branch --ar 3:2")
        await screenshot(page, tmp_path, "region-editor-desktop.png")
        assert len(posts(h)) == before
        await page.click("#submit")
        await page.wait_for_selector("#status.ok")
        status = await page.inner_text("#status")
        assert status.startswith("Started: your job is running") and "reply to your upscaled image" in status
        link = await page.get_attribute("#status a", "href")
        found = re.fullmatch(rf"https://discord\.com/channels/{GUILD}/{CHANNEL}/(\d+)", link or "")
        assert found, link
        message_id = int(found.group(1))
        assert await page.is_disabled("#submit")
        assert errors == []  # CSP violations among them
        # nothing from elsewhere: the page, its script, style sheet, icon and image, and the submission
        assert requested and all(u.startswith(f"http://127.0.0.1:{port}/region/") for u in requested), requested
        assert {u.rsplit("/", 1)[1] for u in requested} >= {"region.js", "region.css", "icon.svg", "image"}

        (req,) = inpaints(h)
        assert len(posts(h)) == before + 1
        assert {k: v for k, v in req.json.items() if k not in ("mask", "callback")} == {
            "jobId": g, "imageNo": 1, "remixPrompt": "a snowy owl on a branch --ar 3:2"}
        rect_area, lasso_area = req.json["mask"]["areas"]
        for area in (rect_area, lasso_area):
            assert (area["width"], area["height"]) == IMAGE  # in image pixels
        rx0, ry0 = to_image(box, x1, y1)
        rx1, ry1 = to_image(box, x0, y0)
        assert_polygon(rect_area["points"], [(rx0, ry0), (rx1, ry0), (rx1, ry1), (rx0, ry1)])
        assert rect_area["points"][:2] == [round(rx0), round(ry0)]  # clockwise from the top left
        assert_polygon(lasso_area["points"], [to_image(box, box["x"] + x, box["y"] + y) for x, y in lasso])

        # the result: a reply to the upscaled image, with the grid's buttons, in the message the page links to
        result = await h.result(lambda m: m.id == message_id)
        assert result.message_reference is not None and int(result.message_reference["message_id"]) == up.id
        assert "snowy owl" in result.content and {"U1", "V1"} <= set(result.labels())

        # the link is used: the page says so, and a second submission is refused
        again = await page.goto(url)
        assert again is not None and again.status == 410
        assert await page.inner_text("#refused") == REFUSED["used"].replace("**", "")
        assert len(posts(h)) == before + 1


# ------------------------------------------------------------------------------------------------------ phone

async def touch_drag(cdp: Any, points: list[tuple[float, float]]) -> None:
    """A finger on the screen: touchStart at the first point, touchMove through the rest, touchEnd (Chromium turns
    these into pointer events of type "touch", as on a phone)."""
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [
        {"x": points[0][0], "y": points[0][1], "id": 1}]})
    for x, y in points[1:]:
        await cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y, "id": 1}]})
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def line(a: tuple[float, float], b: tuple[float, float], steps: int) -> list[tuple[float, float]]:
    return [(a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps) for i in range(1, steps + 1)]


async def test_the_page_on_a_phone_with_touch(tmp_path: Path) -> None:
    async with editor_harness(tmp_path) as (h, _port), browser() as b:
        up, g = await upscaled(h, n=3)
        url = await editor_link(h, up)
        context = await b.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True,
                                      has_touch=True)
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        await page.goto(url)
        await image_shown(page)
        # one column that fits the screen: nothing wider than the phone, the image scaled down to fit
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        box = await canvas_box(page)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] < IMAGE[0]
        for selector in ("#tool-rect", "#tool-lasso", "#undo", "#clear", "#submit"):
            size = await page.eval_on_selector(selector, "e => e.getBoundingClientRect().height")
            assert size >= 44, (selector, size)  # big enough for a finger
        css_px = IMAGE[0] / box["width"]  # image pixels in one CSS pixel

        # a rectangle with a finger (the rectangle tool is the default)
        a = (box["x"] + 30, box["y"] + 20)
        c = (box["x"] + 150, box["y"] + 110)
        await touch_drag(cdp, [a, *line(a, c, 8)])
        assert await page.inner_text("#count") == "1 region marked."
        # a tap marks nothing
        await touch_drag(cdp, [(box["x"] + 200, box["y"] + 50)])
        assert await page.inner_text("#count") == "1 region marked."
        # the lasso, picked with a tap; a triangle traced with the finger
        await page.tap("#tool-lasso")
        tri = [(box["x"] + 200, box["y"] + 30), (box["x"] + 330, box["y"] + 120), (box["x"] + 190, box["y"] + 200)]
        await touch_drag(cdp, [tri[0], *line(tri[0], tri[1], 10), *line(tri[1], tri[2], 10), *line(tri[2], tri[0], 10)])
        assert await page.inner_text("#count") == "2 regions marked."
        # clear, then draw both again: clear works
        await page.tap("#clear")  # the first tap after a quick stroke (a fling would swallow it)
        assert await page.inner_text("#count") == "No region marked yet."
        await page.tap("#tool-rect")
        await touch_drag(cdp, [a, *line(a, c, 8)])
        await page.tap("#tool-lasso")
        await touch_drag(cdp, [tri[0], *line(tri[0], tri[1], 10), *line(tri[1], tri[2], 10), *line(tri[2], tri[0], 10)])
        await page.fill("#prompt", "a lantern in the snow")
        await screenshot(page, tmp_path, "region-editor-phone.png")
        await page.tap("#submit")
        await page.wait_for_selector("#status.ok")

        (req,) = inpaints(h)
        assert (req.json["imageNo"], req.json["jobId"], req.json["remixPrompt"]) == (2, g, "a lantern in the snow")
        rect_area, tri_area = req.json["mask"]["areas"]
        (ax, ay), (cx, cy) = to_image(box, *a), to_image(box, *c)
        assert_polygon(rect_area["points"], [(ax, ay), (cx, ay), (cx, cy), (ax, cy)], tolerance=css_px + 1)
        assert_polygon(tri_area["points"], [to_image(box, *p) for p in tri], tolerance=css_px + 1)
        await context.close()


# ------------------------------------------------------------------------------------------------------ refused

async def get(url: str, **kwargs: Any) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(url, allow_redirects=False, **kwargs) as r:
        return r.status, (await r.read()).decode(errors="replace"), dict(r.headers)


async def post(url: str, body: Any = None, *, raw: bytes | None = None,
               content_type: str = "application/json") -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(body).encode()
    async with aiohttp.ClientSession() as s, s.post(url, data=data, headers={"Content-Type": content_type}) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


def api_calls(h: H) -> int:
    """Submits the simulator received (what a page could make the bot spend)."""
    return len(posts(h))


def good_body(prompt: str = "a snowy owl") -> dict[str, Any]:
    return {"prompt": prompt, "width": IMAGE[0], "height": IMAGE[1], "areas": [[10, 10, 200, 10, 200, 150, 10, 150]]}


async def open_page(url: str) -> None:
    """What the browser does first: load the page (the image's size is learnt then)."""
    status, _text, _ = await get(url)
    assert status == 200, _text


async def test_reused_expired_and_tampered_links_are_refused(tmp_path: Path) -> None:
    async with editor_harness(tmp_path) as (h, port), browser() as b:
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        await open_page(url)
        status, body = await post(url, good_body())
        assert status == 200 and body["ok"], body
        before = api_calls(h)

        # reused: the page says so, the image is no longer served, a second submission is refused
        page = await b.new_page()
        resp = await page.goto(url)
        assert resp is not None and resp.status == 410
        assert await page.inner_text("#refused") == REFUSED["used"].replace("**", "")
        assert await page.query_selector("#canvas") is None
        assert (await get(url + "/image"))[0] == 410
        status, body = await post(url, good_body())
        assert status == 410 and body["error"] == REFUSED["used"].replace("**", "") and body["final"]

        # expired: a link made with a past expiry (signed with the bot's own secret)
        editor = h.bot.get_cog("Imagine").region_editor  # type: ignore[union-attr]
        editor.ttl_s = -1
        expired = await editor_link(h, up)
        editor.ttl_s = 900
        resp = await page.goto(expired)
        assert resp is not None and resp.status == 410
        assert await page.inner_text("#refused") == REFUSED["expired"].replace("**", "")
        assert (await post(expired, good_body()))[0] == 410

        # tampered: another job, image or member in the token, a changed signature, a token signed by another key
        fresh = await editor_link(h, up)
        token = fresh.rsplit("/", 1)[1]
        body64, mac = token.split(".")
        forged = [
            sign(b"another key" * 3, Token("x" * 16, "job", 1, ALICE, 2_000_000_000)),
            f"{body64}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
            f"{body64[:-2]}{'AA' if body64[-2:] != 'AA' else 'BB'}.{mac}",
            token + "x",
            "not-a-token",
            "",
        ]
        for bad in forged:
            bad_url = f"http://127.0.0.1:{port}/region/{bad}"
            resp = await page.goto(bad_url)
            assert resp is not None and resp.status == 404, bad
            assert await page.inner_text("#refused") == REFUSED["invalid"].replace("**", "")
            assert (await post(bad_url, good_body()))[0] == 404
            assert (await get(bad_url + "/image"))[0] == 404
        assert api_calls(h) == before  # refused links cost nothing
        # the untouched fresh link still works
        await open_page(fresh)
        status, body = await post(fresh, {**good_body("a lantern"), "areas": [[300, 300, 400, 300, 400, 400]]})
        assert status == 200 and body["ok"], body
        assert api_calls(h) == before + 1


async def test_a_link_for_someone_elses_image(tmp_path: Path) -> None:
    """With buttons limited to the requester, Bob's press gets no link; Alice's link names Alice, and a token
    re-signed for Bob can't be made without the bot's secret."""
    async with editor_harness(tmp_path, jobs={"button_access": "requester_and_moderators"}) as (h, _port):
        up, _g = await upscaled(h)
        inter = await click(h, up, "Vary (Region)", user_id=BOB)
        answer = await inter.wait_done()
        assert answer.ephemeral and not answer.links() and "Only the member who made it" in answer.content
        url = await editor_link(h, up)
        tid = url.rsplit("/", 1)[1]
        # swap Alice's id for Bob's in the payload: the signature no longer matches
        payload_b64, mac = tid.split(".")
        payload = base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)).decode()
        as_bob = payload.replace(f"|{ALICE}|", f"|{BOB}|").encode()
        forged = base64.urlsafe_b64encode(as_bob).rstrip(b"=").decode() + "." + mac
        before = api_calls(h)
        forged_url = url.rsplit("/", 1)[0] + "/" + forged
        assert (await get(forged_url))[0] == 404
        assert (await post(forged_url, good_body()))[0] == 404
        assert api_calls(h) == before


# ------------------------------------------------------------------------------------------------------ attacks

async def test_hostile_bodies_paths_and_replays_cost_nothing(tmp_path: Path) -> None:
    async with editor_harness(tmp_path) as (h, port):
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        await open_page(url)
        before = api_calls(h)
        w, hgt = IMAGE
        square = [10, 10, 100, 10, 100, 100, 10, 100]
        cases: list[tuple[Any, int, str]] = [
            ({**good_body(), "areas": [[i % w for i in range(4000)]]}, 400, "too many points"),
            ({**good_body(), "areas": [[5, 5, 20, 5, 20, 20]] * 21}, 400, "at most 20 regions"),
            ({**good_body(), "areas": [[x for i in range(450) for x in ((i * 7) % w, (i * 3) % hgt)]] * 5}, 400,
             "too many points together"),
            ({**good_body(), "areas": [[-1, 10, 100, 10, 100, 100]]}, 400, "goes outside the image"),
            ({**good_body(), "areas": [[10, 10, w + 1, 10, 100, 100]]}, 400, "goes outside the image"),
            ({**good_body(), "areas": [[10.5, 10, 100, 10, 100, 100]]}, 400, "whole-pixel"),
            ({**good_body(), "areas": [[True, 10, 100, 10, 100, 100]]}, 400, "whole-pixel"),
            ({**good_body(), "areas": [["10", 10, 100, 10, 100, 100]]}, 400, "whole-pixel"),
            ({**good_body(), "areas": [[10, 10, 100, 10, 100]]}, 400, "whole-pixel"),
            ({**good_body(), "areas": [[10, 10, 100, 100, 50, 50]]}, 400, "too small"),
            ({**good_body(), "areas": [[10, 10, 10, 10, 10, 10, 10, 10]]}, 400, "too small"),
            ({**good_body(), "areas": []}, 400, "at least one region"),
            ({**good_body(), "areas": {"0": square}}, 400, "at least one region"),
            ({**good_body(), "width": 500, "height": 500}, 400, "another size"),
            ({**good_body(), "width": "900"}, 400, "another size"),
            ({**good_body(), "prompt": "   "}, 400, "can't be empty"),
            ({**good_body(), "prompt": 42}, 400, "can't be empty"),
            ({**good_body(), "prompt": "x" * 6001}, 400, "too long"),
            ({**good_body(), "prompt": "an owl --ar 3:2 --ar 1:1"}, 400, "--ar"),
            ([good_body()], 400, "can't read"),
        ]
        for body, status, words in cases:
            got, answer = await post(url, body)
            assert got == status and not answer["ok"] and words in answer["error"], (body, got, answer)
        # NaN, Infinity and other JSON that isn't JSON
        for raw in (b'{"prompt": "x", "width": 900, "height": 600, "areas": [[NaN, 1, 2, 3, 4, 5]]}',
                    b'{"prompt": "x", "areas": [[Infinity, 1, 2, 3, 4, 5]]}', b"[" * 100_00, b"\xff\xfe", b"",
                    b'{"areas": [[' + b"9" * 5000 + b', 1, 2, 3, 4, 5]]}'):
            got, answer = await post(url, raw=raw)
            assert got in (400, 413) and not answer["ok"], (raw[:40], got, answer)
        # oversized bodies: refused before they are read whole
        got, answer = await post(url, raw=b'{"prompt": "' + b"x" * 70_000 + b'"}')
        assert got == 413 and "far more than a page sends" in answer["error"]
        got, answer = await post(url, raw=b" " * 300_000)
        assert got == 413
        async with aiohttp.ClientSession() as s:
            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(100):
                    yield b" " * 1024
            async with s.post(url, data=chunks(), headers={"Content-Type": "application/json"}) as r:
                assert r.status == 413  # no Content-Length: counted while read
        got, answer = await post(url, good_body(), content_type="text/plain")
        assert got == 415
        # paths: traversal and odd forms find nothing, and never a file
        base = f"http://127.0.0.1:{port}/region"
        token = url.rsplit("/", 1)[1]
        for path in ("/static/..%2fregion.html", "/static/../editor.py", "/static/%2e%2e/editor.py",
                     "/static/region.js/", "/static/", "/..%2f..%2fetc%2fpasswd", f"/{token}/..%2f..%2fhealthz",
                     f"/{token}/image/x", f"/{token}/image/..%2f..%2f..%2fbot.sqlite3", "/static/region.html",
                     "/static/message.html", "/static/icon.svg%00.js", "//etc/passwd"):
            status, text, _ = await get(base + path)
            assert status == 404, (path, status)
            assert "editor.py" not in text and "root:" not in text and "import" not in text
        status, text, headers = await get(base + "/static/region.js")
        assert status == 200 and headers["Content-Type"].startswith("text/javascript") and "pointerdown" in text
        assert api_calls(h) == before

        # the link is still good after all that: refused submissions never use it
        # replay: ten submissions of the same link at once start one job
        results = await asyncio.gather(*[post(url, good_body()) for _ in range(10)])
        assert sorted(code for code, _ in results) == [200] + [410] * 9, results
        assert api_calls(h) == before + 1
        assert [r.path for r in posts(h)][-1] == "/v1/inpaint"


async def test_refused_prompts_leave_the_link_usable(tmp_path: Path) -> None:
    """A refusal before anything is charged (a banned word, the API's content filter) is a sentence on the page,
    which stays usable for a corrected submission; the banned word costs no API call."""
    async with editor_harness(tmp_path, limits={**MANY, "banned_words": ["gore"]}) as (h, _port), browser() as b:
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        page = await b.new_page(viewport={"width": 1024, "height": 900})
        await page.goto(url)
        await image_shown(page)
        box = await canvas_box(page)
        await page.mouse.move(box["x"] + 40, box["y"] + 40)
        await page.mouse.down()
        await page.mouse.move(box["x"] + 200, box["y"] + 160, steps=4)
        await page.mouse.up()
        before = api_calls(h)

        await page.fill("#prompt", "a gore owl")
        await page.click("#submit")
        await page.wait_for_selector("#status.error")
        assert "gore" in await page.inner_text("#status")
        assert api_calls(h) == before
        assert not await page.is_disabled("#submit")  # fix it and send again

        h.sim.refused_words.add("forbidden")
        await page.fill("#prompt", "a forbidden owl")
        await page.click("#submit")
        await until(page, "document.getElementById('status').textContent.includes('content filter')")
        assert "Nothing was charged" in await page.inner_text("#status")

        await page.fill("#prompt", "a snowy owl")
        await page.click("#submit")
        await page.wait_for_selector("#status.ok")
        assert [r.json["remixPrompt"] for r in inpaints(h)] == ["a forbidden owl", "a snowy owl"]
        got, answer = await post(url, good_body("another owl"))
        assert got == 410 and answer["final"]


async def test_the_image_comes_from_discord_when_the_api_copy_is_gone(tmp_path: Path) -> None:
    async with editor_harness(tmp_path) as (h, _port):
        up, g = await upscaled(h)
        job = await h.bot.jobs_repo.by_message(up.id)
        assert job is not None and up.attachments  # re-hosted in Discord
        gone = {**(job.output or {}), "image_url": h.sim.base_url.replace("/api", "") + "/files/nope/0.png",
                "image_urls": []}
        await h.bot.jobs_repo.update(job.id, output=gone)
        url = await editor_link(h, up)
        status, text, _ = await get(url)
        assert status == 200 and 'data-mask-width="1200"' in text and 'data-mask-height="800"' in text
        status, _body, headers = await get(url + "/image")
        assert status == 200 and headers["Content-Type"] == "image/png"
        got, answer = await post(url, good_body())
        assert got == 200 and answer["ok"]
        assert inpaints(h)[-1].json["jobId"] == g


async def test_without_a_public_url_the_cell_picker_stays(tmp_path: Path) -> None:
    port = free_port()
    async with harness(tmp_path, web={"listen": f"127.0.0.1:{port}"}) as h:
        up, _g = await upscaled(h)
        inter = await click(h, up, "Vary (Region)")
        assert inter.message is not None and inter.message.selects() and not inter.message.links()
        status, _text, _ = await get(f"http://127.0.0.1:{port}/region/static/region.js")
        assert status == 404  # nothing is mounted


# ------------------------------------------------------------------------------------------------------ review fixes

async def test_the_link_is_checked_before_the_body_and_a_slow_body_is_cut_off(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused link is answered without waiting for its body; a body still arriving after BODY_TIMEOUT_S is
    refused (408) and costs nothing, and the link stays good."""
    async with editor_harness(tmp_path) as (h, port):
        monkeypatch.setattr(live("cogs.imagine.web"), "BODY_TIMEOUT_S", 0.5)
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        await open_page(url)
        before = api_calls(h)
        path = "/" + url.split("/", 3)[3]

        async def ask(target: str, declared: int, sent: bytes) -> tuple[int, Any]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {declared}\r\nConnection: close\r\n\r\n".encode() + sent)
            await writer.drain()
            # answered while the rest of the body never comes (the server then drains it for a while, then closes)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            data = await asyncio.wait_for(reader.readexactly(length), 5)
            writer.close()
            return int(head.split(b" ", 2)[1]), json.loads(data)

        status, answer = await ask(path + "x", 1000, b"")  # a tampered link: 404 with no body read at all
        assert status == 404 and answer["final"], answer
        body = json.dumps(good_body()).encode()
        status, answer = await ask(path, len(body), body[:20])
        assert status == 408 and "nothing was started" in answer["error"] and not answer.get("final"), answer
        assert api_calls(h) == before
        status, answer = await post(url, good_body())
        assert status == 200 and answer["ok"], answer


async def test_a_member_who_left_or_a_discord_that_cant_be_asked(tmp_path: Path) -> None:
    """At submission the member is fetched from Discord: one who left the server is refused for good; when Discord
    can't be asked nothing starts (the snapshot of the press isn't trusted) and the link stays good."""
    async with editor_harness(tmp_path) as (h, _port):
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        await open_page(url)
        before = api_calls(h)
        fault = h.fake.inject_fault("GET", r"/guilds/\d+/members/\d+$", status=503, count=None)
        status, answer = await post(url, good_body())
        assert status == 503 and "couldn't check with Discord" in answer["error"] and not answer["final"], answer
        assert fault.hits >= 1
        fault.remove()
        kept = h.fake.members.pop(ALICE)
        status, answer = await post(url, good_body())
        assert status == 403 and answer["error"] == NOT_A_MEMBER and answer["final"], answer
        assert api_calls(h) == before
        h.fake.members[ALICE] = kept  # back in the server: the same link still works
        status, answer = await post(url, good_body())
        assert status == 200 and answer["ok"], answer
        assert api_calls(h) == before + 1


async def test_an_image_that_cant_be_shown_says_so_and_the_next_press_offers_the_grid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An image over the editor's own cap whose size isn't declared is cut off midway: the page says the image
    didn't load; reloaded, it says plainly that the image can't be shown (not "in a moment") and suggests the 3x3
    grid, which the next press of Vary (Region) offers."""
    async with editor_harness(tmp_path) as (h, _port), browser() as b:
        monkeypatch.setattr(live("cogs.imagine.editor"), "SHOWN_MAX_BYTES", 100)  # its header fits
        monkeypatch.setattr(live("cogs.imagine.editor"), "_declared_length", lambda resp: None)  # as if chunked
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        page = await b.new_page(viewport={"width": 1024, "height": 768})
        response = await page.goto(url)
        assert response is not None and response.status == 200  # its header was read: its size is known
        await until(page, "document.getElementById('note').textContent.includes(\"didn't load\")")
        again = await page.goto(url)
        assert again is not None and again.status == 502
        sentence = await page.inner_text("#refused")
        assert "can't show this image" in sentence and "larger than the 50 MB" in sentence, sentence
        assert "3×3 grid" in sentence and "moment" not in sentence
        assert (await get(url + "/image"))[0] == 502
        inter = await click(h, up, "Vary (Region)")
        assert inter.message is not None and inter.message.selects() and not inter.message.links()


async def test_the_page_keeps_to_the_bots_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page is told the bot's limits (data-* attributes): past the points the regions may have together it
    simplifies a lasso to fit, then refuses a new region with a sentence, as it does past the number of regions."""
    async with editor_harness(tmp_path) as (h, _port), browser() as b:
        up, _g = await upscaled(h)
        url = await editor_link(h, up)
        status, text, _ = await get(url)
        assert status == 200
        assert f'data-max-regions="{MAX_AREAS}"' in text and f'data-max-points="{MAX_POINTS}"' in text
        assert f'data-max-total-points="{MAX_TOTAL_POINTS}"' in text
        web_module = live("cogs.imagine.web")
        monkeypatch.setattr(web_module, "MAX_AREAS", 3)
        monkeypatch.setattr(web_module, "MAX_TOTAL_POINTS", 10)
        page = await b.new_page(viewport={"width": 1024, "height": 768})
        await page.goto(url)
        await image_shown(page)
        box = await canvas_box(page)

        async def rect(on: Any, x: float, y: float) -> None:
            await on.mouse.move(box["x"] + x, box["y"] + y)
            await on.mouse.down()
            await on.mouse.move(box["x"] + x + 60, box["y"] + y + 40, steps=3)
            await on.mouse.up()

        await rect(page, 20, 20)
        await rect(page, 120, 20)
        assert await page.inner_text("#count") == "2 regions marked."
        await rect(page, 220, 20)  # 8 points used, a rectangle needs 4 more
        assert await page.inner_text("#count") == "2 regions marked."
        assert "use all the points one job takes (10 in all)" in await page.inner_text("#note.error")
        await page.click("#undo")
        assert await page.is_hidden("#note")
        await page.click("#tool-lasso")  # 6 points left: a circle traced with many points is simplified to fit
        centre = (box["x"] + 300, box["y"] + 200)
        await page.mouse.move(centre[0] + 80, centre[1])
        await page.mouse.down()
        for i in range(1, 61):
            a = 2 * math.pi * i / 60
            await page.mouse.move(centre[0] + 80 * math.cos(a), centre[1] + 80 * math.sin(a))
        await page.mouse.up()
        assert await page.inner_text("#count") == "2 regions marked."
        assert "simplified to" in await page.inner_text("#note")
        await page.click("#tool-rect")
        await rect(page, 20, 300)  # a third region: no points left
        assert await page.inner_text("#count") == "2 regions marked."
        assert "use all the points" in await page.inner_text("#note.error")

        monkeypatch.setattr(web_module, "MAX_AREAS", 1)  # a page told of one region at most
        other = await b.new_page(viewport={"width": 1024, "height": 768})
        await other.goto(url)
        await image_shown(other)
        await rect(other, 20, 20)
        await rect(other, 120, 20)
        assert await other.inner_text("#count") == "1 region marked."
        assert "as many regions as one job takes (1)" in await other.inner_text("#note.error")
        await other.close()

        await page.click("#submit")
        await page.wait_for_selector("#status.ok")
        (req,) = inpaints(h)
        assert sum(len(a["points"]) // 2 for a in req.json["mask"]["areas"]) <= 10
