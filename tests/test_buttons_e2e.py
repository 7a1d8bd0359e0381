"""Every button under a result, pressed the way a member would, makes exactly the call in bot-contract.md's table.

Runs the real bot against the fake Discord and the Legnext simulator (tests/harness.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bot.__main__ import app_context
from bot.core.errors import AlreadyRequested, Expired
from bot.legnext.simulator import RecordedRequest, running_simulator
from tests.fakediscord import FakeDiscord, FakeInteraction, FakeMessage, run_bot
from tests.harness import ALICE, BOB, CHANNEL, FAST_DURATIONS, GUILD, H, harness, make_settings
from tests.test_render import UPSCALED_ROWS

# Many follow-ups run at once in these tests; the per-member limit is tested in test_imagine_e2e.py.
MANY = {"running_per_member": 50}
PROMPT = "a red fox in the snow --ar 3:2"

EXPIRED_SENTENCE = Expired().sentence
ALREADY_PREFIX = AlreadyRequested(None).sentence.rstrip(".")


# ------------------------------------------------------------------------------------------------------ helpers

def posts(h: H) -> list[RecordedRequest]:
    """Every submit the simulator received (API POSTs under /v1)."""
    return [r for r in h.sim.requests if r.method == "POST" and r.path.startswith("/v1/")]


def last_post(h: H) -> RecordedRequest:
    got = posts(h)
    assert got, "the simulator received no POST"
    return got[-1]


def job_message_id(answer: FakeMessage) -> int:
    """The job message an ephemeral "Started: <link>" answer links to."""
    m = re.search(rf"https://discord\.com/channels/{GUILD}/{CHANNEL}/(\d+)", answer.content)
    assert m, f"no link to a job message in {answer.content!r}"
    return int(m.group(1))


async def finished(h: H, message_id: int) -> FakeMessage:
    return await h.result(lambda m: m.id == message_id)


async def started(h: H, inter: FakeInteraction) -> FakeMessage:
    """Wait for the requester's ephemeral answer, then for the job message it links to to show its result."""
    answer = await inter.wait_done()
    assert answer.ephemeral, answer
    assert answer.content.startswith("Started: "), answer.content
    return await finished(h, job_message_id(answer))


async def grid(h: H, prompt: str = PROMPT) -> tuple[FakeMessage, str]:
    """/imagine -> the finished grid message and its Legnext job id."""
    msg = await started(h, await h.imagine(prompt))
    job = await h.bot.jobs_repo.by_message(msg.id)
    assert job is not None
    assert (await h.finished_job_message(job.id)).id == msg.id  # the bot is done with it, record included
    job = await h.bot.jobs_repo.get(job.id)
    assert job is not None and job.job_id and job.status == "completed"
    return msg, job.job_id


async def click(h: H, msg: FakeMessage, label: str | None = None, *, emoji: str | None = None,
                user_id: int = ALICE) -> FakeInteraction:
    inter = await h.fake.click(msg.id, label, emoji=emoji, user_id=user_id)
    await inter.wait_response()
    return inter


async def follow_up(h: H, source: FakeMessage, inter: FakeInteraction) -> FakeMessage:
    """The follow-up's public message: it replies to `source` and shows a result."""
    result = await started(h, inter)
    assert result.message_reference is not None, result
    assert int(result.message_reference["message_id"]) == source.id
    assert not result.ephemeral
    assert result.buttons() or result.attachments, result
    return result


async def upscale(h: H, grid_msg: FakeMessage, n: int) -> FakeMessage:
    return await follow_up(h, grid_msg, await click(h, grid_msg, f"U{n}"))


async def ephemeral_answer(inter: FakeInteraction) -> str:
    answer = await inter.wait_done()
    assert answer.ephemeral, answer
    return answer.content


def rows(msg: FakeMessage) -> list[list[str]]:
    out = []
    for row in msg.components:
        assert row["type"] == 1
        out.append([c.get("label") or (c.get("emoji") or {}).get("name") or "" for c in row["components"]])
    return out


def modal_inputs(inter: FakeInteraction) -> dict[str, dict[str, Any]]:
    modal = inter.modal
    assert modal is not None, f"expected a modal, got response type {inter.response_type}"
    found: dict[str, dict[str, Any]] = {}

    def walk(comps: list[dict[str, Any]], label: str | None = None) -> None:
        for c in comps:
            if c.get("type") == 4:
                found[label or c.get("label") or c["custom_id"]] = c
            if c.get("type") == 18:
                walk([c["component"]], c.get("label"))
            walk(c.get("components") or [])

    walk(modal.get("components") or [])
    return found


async def toggle_setting(h: H, label: str, user_id: int = ALICE) -> FakeMessage:
    panel = await h.fake.slash("settings", user_id=user_id)
    await panel.wait_response()
    assert panel.ephemeral
    assert panel.message is not None
    pressed = await h.fake.click(panel.message.id, label, user_id=user_id)
    await pressed.wait_response()
    assert pressed.response_type == 7  # the panel is updated in place
    return panel.message


# ------------------------------------------------------------------------------------------------------ grid

async def test_grid_buttons_and_their_calls(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, g = await grid(h)
        assert rows(g_msg) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
        # the reroll button is emoji-only
        assert next(b for b in g_msg.buttons() if b[1] == "🔄")[0] is None
        assert [b[2] for b in g_msg.buttons()][:2] == [f"mj:v1:u1:{g}:0", f"mj:v1:u2:{g}:1"]

        pending: list[FakeInteraction] = []
        for n in range(1, 5):
            inter = await click(h, g_msg, f"U{n}")
            await inter.wait_done()
            assert last_post(h).path == "/v1/upscale"
            assert last_post(h).json == {"jobId": g, "imageNo": n - 1, "type": 0}
            pending.append(inter)
        for n in range(1, 5):
            inter = await click(h, g_msg, f"V{n}")
            await inter.wait_done()
            assert last_post(h).path == "/v1/variation"
            assert last_post(h).json == {"jobId": g, "imageNo": n - 1, "type": 1}
            pending.append(inter)
        inter = await click(h, g_msg, emoji="🔄")
        await inter.wait_done()
        assert last_post(h).path == "/v1/reroll"
        assert last_post(h).json == {"jobId": g}
        pending.append(inter)
        assert len(posts(h)) == 1 + 9

        results = [await follow_up(h, g_msg, inter) for inter in pending]
        for up in results[:4]:
            assert "Upscale (Subtle)" in up.labels()
            assert up.attachments and up.attachments[0]["data"].startswith(b"\x89PNG\r\n\x1a\n")
        for var in results[4:]:
            assert rows(var) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
        assert "Image #3" in results[2].content
        assert "Variations" in results[5].content


async def test_low_variation_mode_sends_type_0(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h)
        panel = await toggle_setting(h, "High Variation Mode")
        assert "Low Variation Mode" in panel.labels()
        inter = await click(h, g_msg, "V2")
        await follow_up(h, g_msg, inter)
        assert last_post(h).path == "/v1/variation"
        assert last_post(h).json == {"jobId": g, "imageNo": 1, "type": 0}
        # bob's mode is still high
        inter = await click(h, g_msg, "V3", user_id=BOB)
        await inter.wait_done()
        assert last_post(h).json == {"jobId": g, "imageNo": 2, "type": 1}
        await follow_up(h, g_msg, inter)


# ------------------------------------------------------------------------------------------------------ upscaled



async def test_buttons_under_an_upscaled_image(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, g = await grid(h)
        up = await upscale(h, g_msg, 3)
        i = 2
        assert rows(up) == UPSCALED_ROWS
        assert all(f":{g}:{i}" in (b[2] or "") for b in up.buttons())  # they act on the grid and its image

        simple: list[tuple[str, str, dict[str, Any]]] = [
            ("Upscale (Subtle)", "/v1/upscale", {"jobId": g, "imageNo": i, "type": 0}),
            ("Upscale (Creative)", "/v1/upscale", {"jobId": g, "imageNo": i, "type": 1}),
            ("Vary (Subtle)", "/v1/variation", {"jobId": g, "imageNo": i, "type": 0}),
            ("Vary (Strong)", "/v1/variation", {"jobId": g, "imageNo": i, "type": 1}),
            ("Zoom Out 2x", "/v1/outpaint", {"jobId": g, "imageNo": i, "scale": 2.0}),
            ("Zoom Out 1.5x", "/v1/outpaint", {"jobId": g, "imageNo": i, "scale": 1.5}),
            ("⬅️", "/v1/pan", {"jobId": g, "imageNo": i, "direction": 3, "scale": 1.5}),
            ("➡️", "/v1/pan", {"jobId": g, "imageNo": i, "direction": 1, "scale": 1.5}),
            ("⬆️", "/v1/pan", {"jobId": g, "imageNo": i, "direction": 2, "scale": 1.5}),
            ("⬇️", "/v1/pan", {"jobId": g, "imageNo": i, "direction": 0, "scale": 1.5}),
        ]
        pending: list[FakeInteraction] = []
        for label, path, body in simple:
            emoji = label if not label[0].isascii() else None
            inter = await click(h, up, None if emoji else label, emoji=emoji)
            await inter.wait_done()
            assert (last_post(h).path, last_post(h).json) == (path, body), label
            pending.append(inter)

        for label, motion in (("Animate (Low motion)", "low"), ("Animate (High motion)", "high")):
            inter = await click(h, up, label)
            await inter.wait_done()
            req = last_post(h)
            assert req.path == "/v1/video-diffusion"
            assert {k: v for k, v in req.json.items() if k != "prompt"} == {"jobId": g, "imageNo": i}
            assert req.json["prompt"].endswith(f"--motion {motion}")
            assert "a red fox in the snow" in req.json["prompt"]
            pending.append(inter)

        for inter in pending:
            await follow_up(h, up, inter)
        assert len(posts(h)) == 2 + len(simple) + 2


async def test_custom_zoom(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h)
        up = await upscale(h, g_msg, 2)
        before = len(posts(h))

        for bad in ("5", "abc", "1.0"):
            inter = await click(h, up, "Custom Zoom")
            inputs = modal_inputs(inter)
            assert set(inputs) == {"Zoom (1.1 to 2.0)", "Prompt"}
            sub = await h.fake.submit_modal(inter, {"Zoom (1.1 to 2.0)": bad})
            text = await ephemeral_answer(sub)
            assert "1.1" in text and "2.0" in text, text
            assert len(posts(h)) == before

        inter = await click(h, up, "Custom Zoom")
        assert modal_inputs(inter)["Prompt"].get("value") == PROMPT
        sub = await h.fake.submit_modal(inter, {"Zoom (1.1 to 2.0)": "1.8", "Prompt": "a wider snowy valley --ar 3:2"})
        await follow_up(h, up, sub)
        assert last_post(h).path == "/v1/outpaint"
        assert last_post(h).json == {"jobId": g, "imageNo": 1, "scale": 1.8,
                                     "remixPrompt": "a wider snowy valley --ar 3:2"}
        assert len(posts(h)) == before + 1


async def test_vary_region(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h)
        up = await upscale(h, g_msg, 4)
        before = len(posts(h))
        inter = await click(h, up, "Vary (Region)")
        assert inter.ephemeral and inter.message is not None
        (menu,) = inter.message.selects()
        assert [o["label"] for o in menu["options"]][:3] == ["Top left", "Top centre", "Top right"]
        assert len(posts(h)) == before  # nothing spent yet

        picked = await h.fake.select(inter, "Regions to vary", ["1", "5", "9"])
        await picked.wait_response()
        assert picked.modal is not None
        assert len(posts(h)) == before
        sub = await h.fake.submit_modal(picked, {"What goes in the picked regions": "a snowy owl"})
        await follow_up(h, up, sub)

        req = last_post(h)
        assert req.path == "/v1/inpaint"
        assert {k: v for k, v in req.json.items() if k != "mask"} == {"jobId": g, "imageNo": 3,
                                                                       "remixPrompt": "a snowy owl"}
        areas = req.json["mask"]["areas"]
        assert set(req.json["mask"]) == {"areas"}
        assert len(areas) == 3
        for area in areas:
            assert 500 <= area["width"] <= 4096 and 500 <= area["height"] <= 4096
            assert len(area["points"]) == 8
            xs, ys = area["points"][0::2], area["points"][1::2]
            assert all(0 <= x <= area["width"] for x in xs) and all(0 <= y <= area["height"] for y in ys)
            assert min(xs) < max(xs) and min(ys) < max(ys)
        assert areas[0]["width"] > areas[0]["height"]  # --ar 3:2 is landscape
        assert areas[0]["points"][:2] == [0, 0]
        assert areas[2]["points"][4:6] == [areas[2]["width"], areas[2]["height"]]
        assert len(posts(h)) == before + 1


# ------------------------------------------------------------------------------------------------------ remix

async def test_remix_mode_opens_a_prefilled_modal(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, g = await grid(h)
        up = await upscale(h, g_msg, 1)
        panel = await toggle_setting(h, "Remix mode")
        assert "on" in panel.content

        cases: list[tuple[FakeMessage, str | None, str | None, str, dict[str, Any]]] = [
            (g_msg, "V1", None, "/v1/variation", {"jobId": g, "imageNo": 0, "type": 1}),
            (g_msg, None, "🔄", "/v1/reroll", {"jobId": g}),
            (up, "Vary (Strong)", None, "/v1/variation", {"jobId": g, "imageNo": 0, "type": 1}),
            (up, None, "⬆️", "/v1/pan", {"jobId": g, "imageNo": 0, "direction": 2, "scale": 1.5}),
        ]
        for n, (msg, label, emoji, path, body) in enumerate(cases):
            before = len(posts(h))
            inter = await click(h, msg, label, emoji=emoji)
            ((name, field),) = modal_inputs(inter).items()
            assert field.get("value") == PROMPT
            assert len(posts(h)) == before  # the modal comes first

            bad = await h.fake.submit_modal(inter, {name: "a fox --chaos 500"})
            text = await ephemeral_answer(bad)
            assert "--chaos" in text, text
            assert len(posts(h)) == before

            inter = await click(h, msg, label, emoji=emoji)
            new_prompt = f"a blue fox number {n} --ar 3:2"
            sub = await h.fake.submit_modal(inter, {name: new_prompt})
            await follow_up(h, msg, sub)
            assert len(posts(h)) == before + 1
            assert last_post(h).path == path
            assert last_post(h).json == {**body, "remixPrompt": new_prompt}

        # U is not a remix button: it starts at once
        inter = await click(h, g_msg, "U2")
        assert inter.modal is None
        await follow_up(h, g_msg, inter)
        assert last_post(h).json == {"jobId": g, "imageNo": 1, "type": 0}


# ------------------------------------------------------------------------------------------------------ refusals

async def test_double_press_starts_one_job(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, _ = await grid(h)
        first = await click(h, g_msg, "U1")
        first_answer = await first.wait_done()
        job_msg = job_message_id(first_answer)

        second = await click(h, g_msg, "U1")
        text = await ephemeral_answer(second)
        assert text.startswith(ALREADY_PREFIX), text
        assert f"/{job_msg}" in text
        assert h.sim.count("POST", "/v1/upscale") == 1

        # after it finished, still one job per button
        await finished(h, job_msg)
        third = await click(h, g_msg, "U1", user_id=BOB)
        assert f"/{job_msg}" in await ephemeral_answer(third)
        assert h.sim.count("POST", "/v1/upscale") == 1


async def test_concurrent_double_press_starts_one_job(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, _ = await grid(h)
        a, b = await asyncio.gather(h.fake.click(g_msg.id, "U2"), h.fake.click(g_msg.id, "U2", user_id=BOB))
        answers = [await a.wait_done(), await b.wait_done()]
        assert all(x.ephemeral for x in answers)
        starts = [x for x in answers if x.content.startswith("Started: ")]
        refusals = [x for x in answers if x.content.startswith(ALREADY_PREFIX)]
        assert len(starts) == 1 and len(refusals) == 1, [x.content for x in answers]
        job_msg = job_message_id(starts[0])
        assert f"/{job_msg}" in refusals[0].content
        await finished(h, job_msg)
        assert h.sim.count("POST", "/v1/upscale") == 1
        assert [j.action for j in await h.bot.jobs_repo.all()] == ["imagine", "u2"]


async def test_expired_image(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h)
        h.sim.age_job(g, 4)
        await h.bot.jobs_repo.db.execute(
            "UPDATE jobs SET submitted_at = submitted_at - 4*86400, created_at = created_at - 4*86400 WHERE job_id = ?",
            (g,),
        )
        before = len(h.sim.requests)
        for label in ("U1", "V1"):
            inter = await click(h, g_msg, label)
            assert await ephemeral_answer(inter) == EXPIRED_SENTENCE
        assert len(posts(h)) == 1
        assert len(h.sim.requests) == before
        assert len(await h.bot.jobs_repo.all()) == 1


async def test_expired_on_the_api_side_only(tmp_path: Path) -> None:
    """The bot's record says fresh but Legnext answers 404: the member still reads the expiry sentence."""
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h)
        h.sim.age_job(g, 4)
        inter = await click(h, g_msg, "U1")
        assert await ephemeral_answer(inter) == EXPIRED_SENTENCE
        assert h.sim.count("POST", "/v1/upscale") == 1  # tried once, refused by the API


async def test_button_access_requester(tmp_path: Path) -> None:
    async with harness(tmp_path, jobs={"button_access": "requester"}) as h:
        g_msg, g = await grid(h)
        inter = await click(h, g_msg, "U1", user_id=BOB)
        text = await ephemeral_answer(inter)
        assert "Only the member who made it" in text, text
        assert len(posts(h)) == 1
        inter = await click(h, g_msg, "U1")  # alice may
        await follow_up(h, g_msg, inter)
        assert last_post(h).json == {"jobId": g, "imageNo": 0, "type": 0}


async def test_button_access_requester_and_moderators(tmp_path: Path) -> None:
    mod_role = 777_000_000_000_000_001
    async with harness(tmp_path, jobs={"button_access": "requester_and_moderators"},
                       moderation={"moderator_role_ids": [mod_role]}) as h:
        h.fake.add_role("Moderators", role_id=mod_role)
        h.fake.add_member(666, "carol")
        g_msg, g = await grid(h)

        inter = await click(h, g_msg, "U1", user_id=666)  # no role: refused
        assert "or a moderator" in await ephemeral_answer(inter)
        assert len(posts(h)) == 1

        h.fake.set_member_roles(BOB, [mod_role])
        inter = await click(h, g_msg, "U1", user_id=BOB)
        await follow_up(h, g_msg, inter)
        assert len(posts(h)) == 2
        assert last_post(h).json == {"jobId": g, "imageNo": 0, "type": 0}


async def test_v81_offers_only_what_the_model_has(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h, "a lighthouse at night --v 8.1")
        job = await h.bot.jobs_repo.by_job_id(g)
        assert job is not None and job.output is not None
        assert "upscale" not in job.output["available_actions"]  # the simulator offers no upscale on V8.1
        assert g_msg.labels() == ["🔄", "V1", "V2", "V3", "V4"]

        inter = await click(h, g_msg, "V1")
        var = await follow_up(h, g_msg, inter)
        assert last_post(h).json == {"jobId": g, "imageNo": 0, "type": 1}
        assert var.labels() == ["🔄", "V1", "V2", "V3", "V4"]


async def test_unoffered_button_pressed_anyway(tmp_path: Path) -> None:
    """A button for an action the job doesn't offer (an old message, a forged id) is refused without a call."""
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h, "a lighthouse at night --v 8.1")
        # put a U1 button back on the message the way an older bot version might have posted it
        fake_row = {"type": 1, "components": [
            {"type": 2, "style": 2, "label": "U1", "custom_id": f"mj:v1:u1:{g}:0"}]}
        h.fake.messages[g_msg.id].components.append(fake_row)
        inter = await click(h, g_msg, "U1")
        text = await ephemeral_answer(inter)
        assert "isn't offered" in text, text
        assert len(posts(h)) == 1


# ------------------------------------------------------------------------------------------------------ restart

@contextlib.asynccontextmanager
async def bot_on(sim: Any, fake: FakeDiscord, db: Path) -> AsyncIterator[H]:
    settings = make_settings(sim, fake, db)
    async with app_context(settings) as bot, run_bot(bot, fake, token="fake-discord-token-123456"):
        yield H(sim, fake, bot, db)


async def test_buttons_work_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with running_simulator(durations=dict(FAST_DURATIONS)) as sim, \
            FakeDiscord(guild_id=GUILD, channel_id=CHANNEL) as fake:
        async with bot_on(sim, fake, db) as h:
            g_msg, g = await grid(h)
        async with bot_on(sim, fake, db) as h2:
            up = await upscale(h2, g_msg, 4)
            assert last_post(h2).json == {"jobId": g, "imageNo": 3, "type": 0}
            inter = await click(h2, up, emoji="⬅️")
            await follow_up(h2, up, inter)
            assert last_post(h2).json == {"jobId": g, "imageNo": 3, "direction": 3, "scale": 1.5}
        fake.assert_clean()


async def test_unknown_job_button(tmp_path: Path) -> None:
    """A button whose job the bot has no record of (another bot's database) answers, never 'interaction failed'."""
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h)
        await h.bot.jobs_repo.db.execute("DELETE FROM jobs WHERE job_id = ?", (g,))
        inter = await click(h, g_msg, "U1")
        assert "no finished job" in await ephemeral_answer(inter)
        assert len(posts(h)) == 1


async def test_custom_zoom_with_another_scale_is_another_request(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, _ = await grid(h)
        up = await upscale(h, g_msg, 1)
        subs = []
        for scale in ("1.8", "1.3"):
            inter = await click(h, up, "Custom Zoom")
            subs.append(await h.fake.submit_modal(inter, {"Zoom (1.1 to 2.0)": scale}))
        for sub in subs:
            await follow_up(h, up, sub)
        assert [r.json["scale"] for r in posts(h) if r.path == "/v1/outpaint"] == [1.8, 1.3]
        # the same scale and prompt again: already requested
        inter = await click(h, up, "Custom Zoom")
        sub = await h.fake.submit_modal(inter, {"Zoom (1.1 to 2.0)": "1.8"})
        assert (await ephemeral_answer(sub)).startswith(ALREADY_PREFIX)
        assert h.sim.count("POST", "/v1/outpaint") == 2
