"""Vary (Region)'s web editor without a browser: the signed links, the mask's checks and coordinate space, image
sizes read from headers, the simulator's polygon rules (as the docs define them) and the fake Discord's link
buttons."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.launcher import Member, Where
from bot.core.media import image_size
from bot.legnext.simulator import make_png, running_simulator
from cogs.imagine.editor import Refused, Token, plain, revive, sign, verify
from cogs.imagine.regions import check_areas, mask_space, normalise_polygon, twice_area
from tests.fakediscord import FakeDiscord

SECRET = b"k" * 32
TOKEN = Token("abcdefghijklmnop", "5dd94ec3-7282-4f04-9445-59e850ef1822", 3, 444, 2_000_000_000)


# ------------------------------------------------------------------------------------------------------ tokens

def test_a_token_names_what_it_was_signed_for() -> None:
    value = sign(SECRET, TOKEN)
    assert verify(SECRET, value, now=1_000_000_000) == TOKEN
    assert len(value) < 250 and all(c.isalnum() or c in "-_." for c in value)  # fits a URL path as it is


@pytest.mark.parametrize("mutate", [
    lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),  # the signature
    lambda v: ("B" if v[0] != "B" else "C") + v[1:],  # the payload
    lambda v: v.replace(".", ".."),
    lambda v: v + "=",
    lambda v: v.split(".")[0],
    lambda v: "",
    lambda v: "../" + v,
])
def test_a_changed_token_is_invalid(mutate: Any) -> None:
    with pytest.raises(Refused) as e:
        verify(SECRET, mutate(sign(SECRET, TOKEN)), now=1_000_000_000)
    assert e.value.reason == "invalid"


def test_another_key_or_an_expired_token_is_refused() -> None:
    with pytest.raises(Refused) as e:
        verify(b"other" * 8, sign(SECRET, TOKEN), now=1_000_000_000)
    assert e.value.reason == "invalid"
    with pytest.raises(Refused) as e:
        verify(SECRET, sign(SECRET, TOKEN), now=TOKEN.expires_at)
    assert e.value.reason == "expired"


def test_what_a_press_keeps_comes_back_the_same() -> None:
    member = Member(id=444, is_moderator=True)
    where = Where(111, 222, 999, bot_permissions=1 << 11, in_thread=True, answer_to=None)
    assert revive(Member, plain(member)) == member
    assert revive(Where, plain(where)) == where
    assert revive(Member, {**plain(member), "gone": 1}) == member  # a field removed since is ignored


# ------------------------------------------------------------------------------------------------------ masks

def test_the_mask_space_is_the_image_when_it_can_be() -> None:
    assert mask_space(2048, 2048) == (2048, 2048)
    assert mask_space(1456, 816) == (1456, 816)
    assert mask_space(128, 128) == (500, 500)  # too small for the API: scaled up
    assert mask_space(256, 128) == (1000, 500)
    assert mask_space(8192, 4096) == (4096, 2048)
    assert mask_space(100, 10000) == (500, 4096)  # extreme: clamped


@given(st.integers(1, 20000), st.integers(1, 20000))
def test_the_mask_space_is_always_what_the_api_takes(w: int, h: int) -> None:
    mw, mh = mask_space(w, h)
    assert 500 <= mw <= 4096 and 500 <= mh <= 4096


def test_polygons_are_put_clockwise_from_the_top_left() -> None:
    # counter-clockwise on screen, starting bottom right: reversed and rotated
    assert normalise_polygon([100, 100, 100, 10, 10, 10, 10, 100]) == [10, 10, 100, 10, 100, 100, 10, 100]
    # the docs' own example runs the other way; it becomes clockwise too
    assert normalise_polygon([10, 10, 10, 100, 100, 100, 100, 10]) == [10, 10, 100, 10, 100, 100, 10, 100]
    # repeated and closing points are dropped
    assert normalise_polygon([10, 10, 100, 10, 100, 10, 100, 100, 10, 10]) == [10, 10, 100, 10, 100, 100]
    assert twice_area(normalise_polygon([5, 5, 50, 80, 90, 5])) > 0


@given(st.lists(st.tuples(st.integers(0, 900), st.integers(0, 600)), min_size=3, max_size=40))
def test_checked_areas_are_what_the_simulator_accepts(points: list[tuple[int, int]]) -> None:
    flat = [c for p in points for c in p]
    try:
        mask = check_areas([flat], 900, 600)
    except ValueError:
        return
    (area,) = mask["areas"]
    assert (area["width"], area["height"]) == (900, 600)
    xs, ys = area["points"][0::2], area["points"][1::2]
    assert all(0 <= x <= 900 for x in xs) and all(0 <= y <= 600 for y in ys)
    assert len(set(zip(xs, ys, strict=True))) >= 3 and twice_area(area["points"]) > 0


@pytest.mark.parametrize(("areas", "words"), [
    ([], "at least one"),
    ("x", "at least one"),
    ([[1, 2, 3, 4, 5, 6]] * 21, "at most 20"),
    ([[1, 2, 3]], "whole-pixel"),
    ([[1.0, 2, 3, 4, 5, 6]], "whole-pixel"),
    ([[float("nan"), 2, 3, 4, 5, 6]], "whole-pixel"),
    ([[-1, 2, 30, 4, 5, 60]], "outside"),
    ([[1, 2, 901, 4, 5, 60]], "outside"),
    ([[1, 2, 30, 4, 5, 601]], "outside"),
    ([[1, 1, 2, 2, 3, 3]], "too small"),
    ([list(range(1002))], "too many points"),
    ([[x for i in range(450) for x in (i % 900, (i * 7) % 600)]] * 5, "together"),
])
def test_bad_areas_are_refused_with_a_sentence(areas: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        check_areas(areas, 900, 600)


# ------------------------------------------------------------------------------------------------------ images

def test_image_sizes_from_their_headers() -> None:
    assert image_size(make_png(1200, 800, ((1, 2, 3),))) == (1200, 800)
    assert image_size(b"GIF89a" + struct.pack("<HH", 640, 480) + b"\x00" * 8) == (640, 480)
    jpeg = (b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
            + b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 1024, 1536) + b"\x03" + b"\x00" * 9)
    assert image_size(jpeg) == (1536, 1024)
    sides = (2047).to_bytes(3, "little") + (1023).to_bytes(3, "little")
    vp8x = b"RIFF" + b"\x00" * 4 + b"WEBPVP8X" + b"\x00" * 8 + sides
    assert image_size(vp8x) == (2048, 1024)
    bits = (1456 - 1) | ((816 - 1) << 14)
    vp8l = b"RIFF" + b"\x00" * 4 + b"WEBPVP8L" + b"\x00" * 4 + b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    assert image_size(vp8l) == (1456, 816)
    assert image_size(b"<svg/>") is None and image_size(b"") is None
    assert image_size(b"\x89PNG\r\n\x1a\n" + zlib.compress(b"x")) is None


# ------------------------------------------------------------------------------------------------------ simulator

async def test_the_simulator_refuses_masks_the_docs_rule_out() -> None:
    async with running_simulator() as sim:
        async def inpaint(areas: list[dict[str, Any]]) -> tuple[int, Any]:
            async with aiohttp.ClientSession() as s, s.post(
                    f"{sim.base_url}/v1/inpaint", headers={"x-api-key": sim.api_key or "k"},
                    json={"jobId": "x", "imageNo": 0, "mask": {"areas": areas}}) as r:
                return r.status, await r.json(content_type=None)

        square = {"width": 600, "height": 600, "points": [10, 10, 100, 10, 100, 100, 10, 100]}
        cases = [
            ({**square, "points": [10, 10, 601, 10, 100, 100]}, "inside"),
            ({**square, "points": [10, 10, 100, 10, 100, 700]}, "inside"),
            ({**square, "points": [10, 10, 20, 20, 30, 30]}, "area"),
            ({**square, "points": [10, 10, 10, 10, 10, 10, 50, 50]}, "area"),
        ]
        for area, words in cases:
            status, body = await inpaint([area])
            assert status == 400 and words in body["message"], (area, body)
        status, body = await inpaint([square, {**square, "width": 700}])
        assert status == 400 and "same image width and height" in body["message"]
        # a good mask passes the mask's checks (and fails only on the unknown job)
        status, body = await inpaint([square, {**square, "points": [200, 200, 300, 200, 250, 300]}])
        assert status == 404, body


# ------------------------------------------------------------------------------------------------------ fake Discord

async def test_the_fake_discord_checks_link_buttons() -> None:
    async with FakeDiscord() as fake:
        async def send(button: dict[str, Any]) -> tuple[int, Any]:
            async with aiohttp.ClientSession() as s, s.post(
                    f"{fake.api_base}/channels/{fake.channel_id}/messages", headers={"Authorization": "Bot x"},
                    json={"content": "x", "components": [{"type": 1, "components": [button]}]}) as r:
                return r.status, await r.json(content_type=None)

        link = {"type": 2, "style": 5, "label": "Open"}
        for url, code in [("ftp://x.test/a", "URL_TYPE_INVALID_SCHEME"),
                          ("javascript:alert(1)", "URL_TYPE_INVALID_URL"), ("not a url", "URL_TYPE_INVALID_URL"),
                          ("https://x.test/" + "a" * 600, "BASE_TYPE_MAX_LENGTH")]:
            status, body = await send({**link, "url": url})
            assert status == 400 and body["code"] == 50035, body
            errors = body["errors"]["components"]["0"]["components"]["0"]["url"]["_errors"]
            assert errors[0]["code"] == code, (url, errors)
        status, body = await send({**link, "url": "https://x.test/region/abc", "custom_id": "c"})
        assert status == 400 and "custom_id" in body["errors"]["components"]["0"]["components"]["0"]
        for url in ("https://x.test/region/abc", "http://127.0.0.1:8080/region/abc", "discord://-/channels/1/2"):
            status, body = await send({**link, "url": url})
            assert status == 200, body
        fake.violations.clear()
