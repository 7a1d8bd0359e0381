"""A hostile review of /video, Animate and the clips' buttons (issue 9): each test here shows a defect found by
review, end to end (real bot, fake Discord, Legnext simulator). They are expected to fail until the defect is fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.legnext.simulator import http as sim_http
from bot.legnext.simulator.media import FAKE_MP4_HEADER
from tests.harness import H, harness
from tests.test_buttons_e2e import click, grid, upscale
from tests.test_video_e2e import MANY, SEA, _delivered, answer_of, job_message_id, posts, shown, video

MB = 1024 * 1024


async def delivered_message(h: H, inter: Any) -> Any:
    """The job message an ephemeral "Started: <link>" answer links to, once delivered for good."""
    text = await answer_of(inter)
    assert text.startswith("Started: "), text
    mid = job_message_id(text)
    job = await h.fake.wait_for(lambda: _delivered(h, mid), timeout=15, what=f"job message {mid} delivered")
    return h.fake.messages[job.message_id]


# ------------------------------------------------------------------------------------------------------ price

async def test_a_bs_glued_to_a_word_neither_cuts_the_price_nor_slips_past_the_budget(tmp_path: Path) -> None:
    """`x--bs 1` is words to the prompt parser (no flag), so /video sends `--bs 4` (four clips, 480 points); the
    cost table's own regex (costs.py `_BS`, unanchored) reads `--bs 1` and reserves and states a quarter of it."""
    async with harness(tmp_path, limits={"member_daily_points": 400}) as h:
        honest = await answer_of(await video(h, prompt="waves", image=SEA))  # four clips: 480 > 400
        assert not honest.startswith("Started"), honest
        assert posts(h) == []

        text = await answer_of(await video(h, prompt="waves x--bs 1", image=SEA))
        sent = [(r.path, r.json) for r in posts(h)]
        assert sent == [], f"the same four clips slipped past the 400-point budget: answer {text!r}, sent {sent}"


async def test_the_price_stated_is_what_the_api_freezes_with_a_bs_inside_a_word(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        inter = await video(h, prompt="surf x--bs 1", image=SEA)
        msg = await delivered_message(h, inter)
        job = await h.bot.jobs_repo.by_message(msg.id)
        assert job is not None and job.frozen_points == 480  # the API made (and froze) four clips
        text = inter.last_message.content if inter.last_message is not None else ""
        assert "**480 points**" in text, text


# ------------------------------------------------------------------------------------------------------ uploads

async def test_four_clips_each_within_the_upload_limit_are_attached(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """720p clips of a few MB each: every one is well within the server's 10 MiB per-file limit, yet with the
    default `max_download_mb = 10` the presenter's *sum* rule (presenter.py `_files`) links all four instead."""
    clip = FAKE_MP4_HEADER + b"\x00" * (3 * MB)
    monkeypatch.setattr(sim_http, "make_mp4", lambda job_id, index: clip)
    async with harness(tmp_path) as h:
        assert h.fake.attachment_size_limit == 10 * MB
        msg = await shown(h, await video(h, prompt="waves", image=SEA, resolution="720p"))
        names = [a["filename"] for a in msg.attachments]
        assert len(names) == 4, f"four {len(clip)}-byte clips, each under the upload limit, were linked: {names}"


async def test_animate_clips_respect_the_upload_limit_discord_gave_the_press(tmp_path: Path) -> None:
    """/video and Extend keep the interaction's `attachment_size_limit` with the job; Animate (cogs/imagine) does
    not, so its clips are sized against the guild's boost tier and sent, and Discord refuses them (413)."""
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, _ = await grid(h, "a red fox in the snow")
        up = await upscale(h, g_msg, 2)
        h.fake.attachment_size_limit = 40  # this server takes nothing as large as a clip
        before = list(h.fake.refusals)
        msg = await delivered_message(h, await click(h, up, "Animate (Low motion)"))
        assert msg.attachments == []
        assert h.fake.refusals == before, f"clips sent over the limit the press carried: {h.fake.refusals}"


# ------------------------------------------------------------------------------------------------------ start frames

@pytest.mark.parametrize("prompt", [
    "https://images.example.com/clip.mp4 waves",  # a video as the start frame
    "https://images.example.com/sea.png waves --end https://images.example.com/notes.pdf",
])
async def test_a_link_that_names_no_image_is_refused_before_any_call(tmp_path: Path, prompt: str) -> None:
    """The uploads' type is checked; a typed link whose file is plainly no image (`.mp4`, `.pdf`) is sent,
    and the API fails the job (issue 9: a non-image start frame gets a sentence and zero API calls)."""
    async with harness(tmp_path) as h:
        text = await answer_of(await video(h, prompt=prompt))
        sent = [(r.path, r.json) for r in posts(h)]
        assert not text.startswith("Started") and sent == [], (text, sent)
