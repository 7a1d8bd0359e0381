"""/video and Animate as a member uses them, end to end (real bot, fake Discord, Legnext simulator): the
video-diffusion a /video sends, the clips shown (attached, or linked when the server can't take them), the per-clip
`Extend` and `Upscale` buttons and their calls, the limit of four extensions, a video finishing after the interaction
token expired, and bad input refused with a sentence and no API call."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.costs import points_for
from bot.legnext.simulator import RecordedRequest, engine
from tests.fakediscord import FakeInteraction, FakeMessage
from tests.harness import ALICE, BOB, CHANNEL, FAST_DURATIONS, GUILD, H, harness
from tests.test_buttons_e2e import click, follow_up, grid, rows, upscale
from tests.test_chatbox_abuse import press_forged

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MANY = {"running_per_member": 20}
SEA = ("sea.png", PNG, "image/png")
END = ("end.png", PNG, "image/png")


# ------------------------------------------------------------------------------------------------------ helpers

def posts(h: H) -> list[RecordedRequest]:
    return [r for r in h.sim.requests if r.method == "POST" and r.path.startswith("/v1/")]


def job_message_id(text: str) -> int:
    m = re.search(rf"https://discord\.com/channels/{GUILD}/{CHANNEL}/(\d+)", text)
    assert m, f"no link to a job message in {text!r}"
    return int(m.group(1))


async def video(h: H, *, user_id: int = ALICE, **given: Any) -> FakeInteraction:
    """Type /video with these options (`image` / `end_image` as (filename, bytes, content type))."""
    attachments = {k: given.pop(k) for k in ("image", "end_image") if k in given}
    inter = await h.fake.slash("video", options=given or None, attachments=attachments or None, user_id=user_id)
    await inter.wait_response()
    return inter


def uploaded(inter: FakeInteraction, filename: str) -> str:
    """The URL Discord gave the attachment `filename` of a slash command (query string included)."""
    (att,) = [a for a in inter.data["resolved"]["attachments"].values() if a["filename"] == filename]
    return str(att["url"])


async def answer_of(inter: FakeInteraction) -> str:
    got = await inter.wait_done()
    assert got.ephemeral, got
    return got.content


async def shown(h: H, inter: FakeInteraction) -> FakeMessage:
    """The job message a "Started: <link>" answer links to, once it shows its finished result."""
    text = await answer_of(inter)
    assert text.startswith("Started: "), text
    mid = job_message_id(text)
    job = await h.fake.wait_for(lambda: _delivered(h, mid), timeout=15, what=f"job message {mid} delivered")
    return h.fake.messages[job.message_id]


async def _delivered(h: H, message_id: int) -> Any:
    job = await h.bot.jobs_repo.by_message(message_id)
    return job if job is not None and job.finished and job.delivered_at is not None else None


async def job_of(h: H, msg: FakeMessage) -> Any:
    job = await h.bot.jobs_repo.by_message(msg.id)
    assert job is not None and job.job_id
    return job


async def refused(h: H, **given: Any) -> str:
    text = await answer_of(await video(h, **given))
    assert not text.startswith("Started"), text
    return text


def clip_rows(n: int) -> list[list[str]]:
    return [[f"Extend {k} (Low motion)", f"Extend {k} (High motion)", f"Upscale {k}"] for k in range(1, n + 1)]


SINGLE_ROW = [["Extend (Low motion)", "Extend (High motion)", "Upscale"]]


# ------------------------------------------------------------------------------------------------------ /video

async def test_video_sends_the_start_frame_first_with_the_flags_and_its_clips_extend_and_upscale(
        tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        inter = await video(h, prompt="waves crash on the rocks --raw", image=SEA, end_image=END, motion="high",
                            resolution="720p", loop=True, batch=2)
        start, end = uploaded(inter, "sea.png"), uploaded(inter, "end.png")
        assert re.search(r"[?&]ex=[0-9a-f]+&is=[0-9a-f]+&hm=", start), start
        answer = await answer_of(inter)
        (req,) = posts(h)
        assert req.path == "/v1/video-diffusion"
        assert set(req.json) == {"prompt", "videoType"} and req.json["videoType"] == 1
        prompt = req.json["prompt"]
        assert prompt.startswith(start + " waves crash on the rocks "), prompt  # the signed link, intact, first
        for flag in ("--raw", "--motion high", "--loop", "--bs 2", f"--end {end}"):
            assert f" {flag}" in prompt, (flag, prompt)
        price = points_for("video_diffusion", req.json)
        assert price == 1536 * 2 // 4
        assert f"**{price:,} points**" in answer and "720p" in answer and "2 clips" in answer, answer

        msg = await shown(h, inter)
        w = (await job_of(h, msg)).job_id
        assert msg.content.startswith("**sea.png waves crash on the rocks --raw --motion high --loop --bs 2 "
                                      "--end end.png** - Video by <@444>"), msg.content
        assert start not in msg.content  # the member's upload is named, not linked
        names = [a["filename"] for a in msg.attachments]
        assert names == [f"{w}_1.mp4", f"{w}_2.mp4"], names  # the clips themselves, numbered as the buttons
        assert all(a["content_type"] == "video/mp4" for a in msg.attachments)
        (embed,) = msg.embeds
        assert embed["fields"][0]["name"] == "2 clips · 720p"
        assert "Video" in embed["footer"]["text"] and "V7" not in embed["footer"]["text"]
        assert rows(msg) == clip_rows(2)

        ext = await follow_up(h, msg, await click(h, msg, "Extend 2 (High motion)"))
        extend = posts(h)[-1]
        assert (extend.path, extend.json) == (
            "/v1/extend-video", {"jobId": w, "videoNo": 1, "prompt": "waves crash on the rocks --raw --motion high"})
        assert rows(ext) == clip_rows(2)  # the extension's own clips
        assert "Extended" in ext.content

        up = await follow_up(h, msg, await click(h, msg, "Upscale 1"))
        upscale_req = posts(h)[-1]
        assert (upscale_req.path, upscale_req.json) == ("/v1/video-upscale", {"jobId": w, "videoNo": 0})
        assert up.buttons() == [] and [a["filename"] for a in up.attachments] == [
            f"{(await job_of(h, up)).job_id}.mp4"]
        assert len(posts(h)) == 3


async def test_one_clip_has_its_buttons_without_a_number_and_a_link_at_the_front_is_the_start_frame(
        tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        inter = await video(h, prompt="https://images.example.com/sea.png waves", batch=1)
        msg = await shown(h, inter)
        (req,) = posts(h)
        assert req.json == {"prompt": "https://images.example.com/sea.png waves --bs 1", "videoType": 0}
        assert rows(msg) == SINGLE_ROW
        assert [a["filename"] for a in msg.attachments] == [f"{(await job_of(h, msg)).job_id}.mp4"]


async def test_without_a_batch_it_makes_four_clips_at_the_price_stated(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        inter = await video(h, prompt="waves", image=SEA)
        answer = await answer_of(inter)
        (req,) = posts(h)
        assert req.json["prompt"].endswith(" waves --bs 4") and req.json["videoType"] == 0
        assert "**480 points**" in answer and "480p, 4 clips" in answer, answer
        msg = await h.fake.wait_message(lambda m: m.id == job_message_id(answer) and bool(m.buttons()))
        assert rows(msg) == clip_rows(4)
        job = await job_of(h, msg)
        assert job.frozen_points == 480  # what the API froze is what the member was told


# ------------------------------------------------------------------------------------------------------ Animate

async def test_animate_high_motion_on_an_upscale_animates_that_grid_image(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, g = await grid(h, "a red fox in the snow --ar 3:2 --chaos 20 --style raw")
        up = await upscale(h, g_msg, 3)
        clips = await follow_up(h, up, await click(h, up, "Animate (High motion)"))
        req = posts(h)[-1]
        assert req.path == "/v1/video-diffusion"
        # the image's words and `--raw` (the video model takes it); `--ar` and `--chaos` are image-only
        assert req.json == {"jobId": g, "imageNo": 2, "prompt": "a red fox in the snow --raw --motion high"}
        assert rows(clips) == clip_rows(4)  # shown as a video: its clips and their buttons
        assert "Animate (High motion)" in clips.content


# ------------------------------------------------------------------------------------------------------ extensions

async def extend_chain(h: H, msg: FakeMessage, times: int) -> FakeMessage:
    for _ in range(times):
        msg = await follow_up(h, msg, await click(h, msg, "Extend (Low motion)"))
    return msg


async def test_after_four_extensions_no_extend_is_offered(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await shown(h, await video(h, prompt="waves", image=SEA, batch=1))
        last = await extend_chain(h, msg, 4)
        assert [r.path for r in posts(h)] == ["/v1/video-diffusion"] + ["/v1/extend-video"] * 4
        assert rows(last) == [["Upscale"]]
        assert "4 of 4 times" in str(last.embeds[0]["fields"])


async def test_the_bot_counts_the_lineage_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even when the API still offers `extend` after four extensions, the bot stops offering (and accepting) it."""
    monkeypatch.setattr(engine, "MAX_VIDEO_EXTENSIONS", 10)
    async with harness(tmp_path) as h:
        msg = await shown(h, await video(h, prompt="waves", image=SEA, batch=1))
        last = await extend_chain(h, msg, 4)
        w4 = await job_of(h, last)
        assert "extend" in w4.output["available_actions"]  # the simulator would take a fifth
        assert rows(last) == [["Upscale"]]
        before = len(posts(h))
        text = await answer_of(await press_forged(h, last, f"mj:v1:video_extend_high:{w4.job_id}:0"))
        assert "extended 4 times" in text, text
        assert len(posts(h)) == before


# ------------------------------------------------------------------------------------------------------ delivery

async def test_a_video_finishing_after_the_interaction_token_expired_is_still_delivered(tmp_path: Path) -> None:
    durations = {**FAST_DURATIONS, "video_diffusion": 6.0}
    async with harness(tmp_path, sim_kwargs={"durations": durations}) as h:
        h.fake.interaction_token_ttl_s = 1.0
        inter = await video(h, prompt="waves", image=SEA, batch=1)
        answer = await answer_of(inter)
        mid = job_message_id(answer)

        def running(m: FakeMessage) -> bool:
            return m.id == mid and "(Running, started <t:" in m.content

        status = await h.fake.wait_message(running, timeout=5)  # the time elapsed, shown live by Discord
        job = await h.bot.jobs_repo.by_message(mid)
        assert job is not None and job.started_at is not None
        assert f"<t:{int(job.started_at)}:R>" in status.content
        await asyncio.sleep(1.2)
        async with aiohttp.ClientSession() as http:  # the member's interaction token is dead by now
            url = f"{h.fake.api_base}/webhooks/{h.fake.application_id}/{inter.token}/messages/@original"
            async with http.get(url) as resp:
                assert resp.status == 404
        probed = len(h.fake.calls)
        job = await h.bot.jobs_repo.by_message(mid)
        assert job is not None and not job.finished  # ... and the video is not done yet

        msg = await h.fake.wait_for(lambda: _delivered(h, mid), timeout=15, what="the video delivered")
        final = h.fake.messages[msg.message_id]
        assert final.id == mid and rows(final) == SINGLE_ROW and final.attachments
        late = [(c.method, c.path) for c in h.fake.calls[probed:] if "/webhooks/" in c.path]
        assert late == [], late  # shown with the bot token, never through the expired interaction
        assert any(c.method == "PATCH" and c.path == f"/channels/{CHANNEL}/messages/{mid}"
                   for c in h.fake.calls[probed:])


async def test_clips_too_large_for_the_server_are_linked(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.fake.attachment_size_limit = 40  # smaller than any clip the simulator makes
        msg = await shown(h, await video(h, prompt="waves", image=SEA, batch=2))
        assert msg.attachments == []
        value = msg.embeds[0]["fields"][0]["value"]
        urls = (await job_of(h, msg)).output["video_urls"]
        for n, url in enumerate(urls, start=1):
            assert f"**{n}** · [clip {n}]({url})" in value, value
        assert rows(msg) == clip_rows(2)
        assert h.fake.refusals == []  # known to be too large: never sent and refused


# ------------------------------------------------------------------------------------------------------ refusals

async def test_bad_input_is_refused_with_a_sentence_and_no_call(tmp_path: Path) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * 3000
    async with harness(tmp_path, jobs={"max_image_mb": 0.002}) as h:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"prompt": "waves --tile", "image": SEA}, "`--tile` only works for images"),
            ({"prompt": "waves --chaos 20", "image": SEA}, "`--chaos` only works for images"),
            ({"prompt": "waves --ar 16:9", "image": SEA}, "`--ar` only works for images"),
            ({"prompt": "waves --motion 3", "image": SEA}, "`--motion` must be `low` or `high`"),
            ({"prompt": "waves --bs 3", "image": SEA}, "must be 1, 2 or 4"),
            ({"prompt": "waves --end", "image": SEA}, "`--end` needs a link"),
            ({"prompt": "waves", "image": ("notes.txt", b"hello", "text/plain")}, "`image` must be an image"),
            ({"prompt": "waves", "image": ("clip.mp4", b"\x00" * 64, "video/mp4")}, "`image` must be an image"),
            ({"prompt": "waves", "image": SEA, "end_image": ("a.pdf", b"%PDF", "application/pdf")},
             "`end_image` must be an image"),
            ({"prompt": "waves", "image": ("big.png", big, "image/png")}, "`image` is too large"),
            ({"prompt": "waves"}, "needs a start frame"),
            ({"prompt": "https://images.example.com/a.png waves", "image": SEA}, "not both"),
            ({"prompt": "http://127.0.0.1/a.png waves"}, "private or local address"),
            ({"prompt": "waves --end http://169.254.169.254/x.png", "image": SEA}, "private or local address"),
            ({"prompt": "waves --motion high", "image": SEA, "motion": "low"}, "please give it once"),
            ({"prompt": "waves --bs 2", "image": SEA, "batch": 4}, "please give it once"),
            ({"prompt": "waves --end https://images.example.com/e.png", "image": SEA, "end_image": END},
             "not both"),
            ({"prompt": "waves {calm, wild}", "image": SEA}, "Permutation"),
            ({"prompt": "waves --turbo", "image": SEA}, "fast mode"),
        ]
        for given, expected in cases:
            text = await refused(h, **dict(given))
            assert expected in text, (given["prompt"], text)
        assert posts(h) == []
        assert await h.bot.jobs_repo.all() == []


async def test_mentions_and_a_huge_prompt_never_ping_nor_break_the_message(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        prompt = "@everyone <@555> @here **bold** " + "waves " * 990
        assert len(prompt) <= 6000
        inter = await video(h, prompt=prompt.strip(), image=SEA, end_image=END, batch=1)
        msg = await shown(h, inter)
        assert msg.allowed_mentions == {"parse": []}
        assert "@\u200beveryone" in msg.content and "@\u200bhere" in msg.content  # <@555> is inert: no parse
        assert len(msg.content) <= 2000 and len(msg.embeds[0]["description"]) <= 4096
        assert len(posts(h)[0].json["prompt"]) <= 8192


# ------------------------------------------------------------------------------------------------------ hostile

async def test_a_double_press_of_extend_starts_one_job(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        msg = await shown(h, await video(h, prompt="waves", image=SEA, batch=1))
        first, second = await asyncio.gather(
            h.fake.click(msg.id, "Extend (Low motion)"), h.fake.click(msg.id, "Extend (Low motion)", user_id=BOB))
        texts = [await answer_of(i) for i in (first, second)]
        assert sum(t.startswith("Started: ") for t in texts) == 1, texts
        assert any("already requested" in t for t in texts), texts
        assert [r.path for r in posts(h)].count("/v1/extend-video") == 1
        again = await answer_of(await click(h, msg, "Extend (Low motion)"))
        assert "already requested" in again
        assert [r.path for r in posts(h)].count("/v1/extend-video") == 1


async def test_forged_video_buttons_are_answered_and_spend_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        _, g = await grid(h, "a red fox")
        msg = await shown(h, await video(h, prompt="waves", image=SEA, batch=1))
        w = (await job_of(h, msg)).job_id
        before = len(posts(h))
        forged = [
            f"mj:v1:video_extend_low:{w}:3",      # no clip 4
            f"mj:v1:video_upscale:{w}:99",
            f"mj:v1:video_extend_high:{g}:0",     # an image job, not a video
            f"mj:v1:video_upscale:{g}:0",
            "mj:v1:video_upscale:doesnotexist:0",
            f"mj:v1:video_again:{w}:0:zz",        # an unknown press in the confirmation
            f"mj:v1:video_again:{w}:0",
        ]
        for cid in forged:
            text = await answer_of(await press_forged(h, msg, cid))
            assert "went wrong" not in text and not text.startswith("Started"), (cid, text)
        assert len(posts(h)) == before, [(r.path, r.json) for r in posts(h)[before:]]


async def test_another_servers_video_cant_be_extended_from_here(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await shown(h, await video(h, prompt="waves", image=SEA, batch=1))
        job = await job_of(h, msg)
        await h.bot.jobs_repo.db.execute("UPDATE jobs SET guild_id = 999 WHERE id = ?", (job.id,))
        before = len(posts(h))
        text = await answer_of(await click(h, msg, "Extend (Low motion)"))
        assert "no finished job" in text, text
        assert len(posts(h)) == before


# ------------------------------------------------------------------------------------------------------ simulator

async def test_the_simulator_fetches_the_frames_and_fails_a_video_whose_start_is_not_an_image(
        tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.fetch_hosts = {"127.0.0.1"}  # the fake Discord's CDN
        msg = await shown(h, await video(h, prompt="waves", image=SEA, end_image=END, batch=1))
        assert rows(msg) == SINGLE_ROW
        prompt = posts(h)[0].json["prompt"]
        assert h.sim.fetched == [prompt.split(" ")[0], prompt.split("--end ")[1]]

        # a start frame that is no image (the bot refuses such uploads and private links; the API fails the job)
        blob = h.fake.store_blob("notes.txt", b"hello", "text/plain")
        async with aiohttp.ClientSession(headers={"x-api-key": "sim-api-key-abcdef"}) as http:
            async with http.post(f"{h.sim.base_url}/v1/video-diffusion",
                                 json={"prompt": f"{blob['url']} waves --bs 1"}) as resp:
                assert resp.status == 200
                job_id = (await resp.json())["job_id"]

        def ended() -> dict[str, Any] | None:
            job = h.sim.job_json(job_id)
            return job if job["status"] in ("completed", "failed") else None

        failed = await h.fake.wait_for(ended, timeout=5)
        assert failed["status"] == "failed" and "not an image" in failed["error"]["raw_message"]

        for bad in ("waves --tile", "waves --motion 3", "waves --end"):  # what the API refuses outright
            async with aiohttp.ClientSession(headers={"x-api-key": "sim-api-key-abcdef"}) as http:
                async with http.post(f"{h.sim.base_url}/v1/video-diffusion",
                                     json={"prompt": f"https://images.example.com/a.png {bad}"}) as resp:
                    assert resp.status == 400, bad


async def test_an_extend_whose_outcome_is_unknown_runs_again_only_when_confirmed(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        msg = await shown(h, await video(h, prompt="waves", image=SEA, batch=1))
        h.sim.inject_error(500, count=1, path="/v1/extend-video", create_job=True)
        text = await answer_of(await click(h, msg, "Extend (Low motion)"))
        assert "try again" not in text.lower() and not text.startswith("Started"), text
        await h.fake.wait_message(lambda m: not m.ephemeral and "outcome is unknown" in m.text())

        again = await click(h, msg, "Extend (Low motion)")
        assert "charged twice" in await answer_of(again)
        assert [r.path for r in posts(h)].count("/v1/extend-video") == 1
        confirm_msg = again.last_message
        assert confirm_msg is not None
        confirm = await h.fake.click(confirm_msg.id, "Run it again (may be charged twice)")
        await confirm.wait_response()
        extended = await shown(h, confirm)
        assert [r.path for r in posts(h)].count("/v1/extend-video") == 2
        assert extended.message_reference is not None and int(extended.message_reference["message_id"]) == msg.id
        assert rows(extended) == SINGLE_ROW
