"""The video rules without Discord: the video model's prompt check, what /video sends and costs, what Animate and
Extend prompt, when a clip's buttons are offered, and how a video job looks (pure screens)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.core.costs import points_for, video_points
from bot.core.errors import BadInput, NotAvailable
from bot.core.prompt import PromptError, check_prompt, check_video_prompt, follow_up_video_prompt
from bot.storage.database import Database
from bot.storage.jobs import JobRecord, JobRepo
from cogs.video.cog import Video
from cogs.video.render import render_job
from cogs.video.rules import MAX_EXTENSIONS, VideoAsk, press_launch, video_plan

START = "https://cdn.discordapp.com/attachments/1/2/sea.png?ex=65&is=64&hm=ab12"
END = "https://cdn.discordapp.com/attachments/1/3/end.png?ex=65&is=64&hm=cd34"


# ------------------------------------------------------------------------------------------------------ prompts

@pytest.mark.parametrize("prompt", [
    f"{START} waves --motion high --loop --bs 2 --end {END} --raw",
    "waves --motion LOW --bs 4",
    "--motion high",  # the start frame is the subject: no words needed
    "waves --style raw --fast --video",
    "waves —motion high",  # a phone's em dash
])
def test_video_prompts_the_video_model_takes(prompt: str) -> None:
    check_video_prompt(prompt)


@pytest.mark.parametrize(("prompt", "flag", "words"), [
    ("waves --tile", "tile", "only works for images"),
    ("waves --chaos 10", "chaos", "only works for images"),
    ("waves --s 100", "stylize", "only works for images"),
    ("waves --seed 5", "seed", "only works for images"),
    ("waves --v 7", "version", "only works for images"),
    ("waves --niji 6", "niji", "only works for images"),
    ("waves --no people", "no", "only works for images"),
    ("waves --sref https://a.example/b.png", "sref", "only works for images"),
    ("waves --ar 16:9", "aspect", "start frame"),
    ("waves --turbo", "turbo", "fast mode"),
    ("waves --relax", "relax", "fast mode"),
    ("waves --repeat 2", "repeat", "isn't supported"),
    ("waves --motion 3", "motion", "`low` or `high`"),
    ("waves --motion", "motion", "`low` or `high`"),
    ("waves --bs 3", "bs", "1, 2 or 4"),
    ("waves --batchsize 8", "bs", "1, 2 or 4"),
    ("waves --end", "end", "needs a link"),
    ("waves --end not-a-link", "end", "one http(s) link"),
    ("waves --end https://a.example/x.png https://b.example/y.png", "end", "one http(s) link"),
    ("waves --loop yes", "loop", "doesn't take a value"),
    ("waves --style vivid", "style", "only accepts `raw`"),
    ("waves --style raw --raw", "style", "mean the same"),
    ("waves --bs 1 --bs 2", "bs", "more than once"),
    ("waves --wobble", "wobble", "isn't a Midjourney parameter"),
])
def test_video_prompts_refused(prompt: str, flag: str, words: str) -> None:
    with pytest.raises(PromptError) as e:
        check_video_prompt(prompt)
    assert e.value.flag == flag and words in str(e.value), str(e.value)


def test_video_prompt_basics() -> None:
    for prompt, words in (("   ", "empty"), ("\u200b\u200b", "empty"), ("a {b, c}", "Permutation"),
                          ("x" * 9000, "9,000 characters")):
        with pytest.raises(PromptError, match=words):
            check_video_prompt(prompt)


def test_image_prompts_still_refuse_the_video_flags() -> None:
    for prompt in ("a cat --motion high", "a cat --bs 2", "a cat --loop", "a cat --video"):
        with pytest.raises(PromptError, match="/video"):
            check_prompt(prompt)
    check_prompt("a cat --tile --chaos 10")


@pytest.mark.parametrize(("prompt", "motion", "expected"), [
    ("a red fox --ar 3:2 --chaos 20", "high", "a red fox --motion high"),
    ("a red fox --style raw --v 7", "low", "a red fox --raw --motion low"),
    (f"{START} waves --motion high --loop --bs 2 --end {END} --raw", "low", "waves --raw --motion low"),
    ("https://a.example/1.png https://a.example/2.png two cats", "high", "two cats --motion high"),
    ("--ar 3:2", "low", "--motion low"),
    ("waves --raw --motion low", "high", "waves --raw --motion high"),  # an extension of an extension
])
def test_follow_up_video_prompt(prompt: str, motion: str, expected: str) -> None:
    made = follow_up_video_prompt(prompt, motion)
    assert made == expected
    check_video_prompt(made)


# ------------------------------------------------------------------------------------------------------ /video

def test_video_plan_puts_the_start_frame_first_and_every_option_in() -> None:
    plan = video_plan(VideoAsk(prompt="waves --raw", image_url=START, image_name="sea.png", motion="high",
                               resolution="720p", loop=True, end_url=END, end_name="end.png", batch=2))
    assert plan.prompt == f"{START} waves --raw --motion high --loop --bs 2 --end {END}"
    assert plan.shown == "sea.png waves --raw --motion high --loop --bs 2 --end end.png"
    assert (plan.video_type, plan.batch, plan.points) == (1, 2, 768)
    assert plan.request().body() == {"prompt": plan.prompt, "videoType": 1}


def test_video_plan_reads_the_flags_typed_in_the_prompt() -> None:
    plan = video_plan(VideoAsk(prompt="https://img.example.com/a.png waves —motion HIGH --loop --bs 1 "
                                      "--end https://img.example.com/b.png --style raw"))
    assert plan.prompt == ("https://img.example.com/a.png waves --raw --motion high --loop --bs 1 "
                           "--end https://img.example.com/b.png")
    assert plan.shown == plan.prompt and plan.points == 120 and plan.video_type == 0


def test_links_wrapped_in_angle_brackets_are_links() -> None:
    plan = video_plan(VideoAsk(prompt="<https://img.example.com/a.png> waves --end <https://img.example.com/b.png>"))
    assert plan.prompt == "https://img.example.com/a.png waves --bs 4 --end https://img.example.com/b.png"


@pytest.mark.parametrize(("ask", "words"), [
    (VideoAsk(prompt="waves"), "needs a start frame"),
    (VideoAsk(prompt="https://a.example/1.png https://a.example/2.png waves"), "one start frame"),
    (VideoAsk(prompt="https://a.example/1.png waves", image_url=START), "not both"),
    (VideoAsk(prompt="http://10.0.0.1/a.png waves"), "private or local"),
    (VideoAsk(prompt="http://user:pw@a.example/a.png waves"), "user name or password"),
    (VideoAsk(prompt="waves --end http://localhost/e.png", image_url=START), "private or local"),
    (VideoAsk(prompt="waves --end https://a.example/e.png", image_url=START, end_url=END), "not both"),
    (VideoAsk(prompt="waves --motion high", image_url=START, motion="low"), "give it once"),
    (VideoAsk(prompt="waves --loop", image_url=START, loop=False), "give it once"),
    (VideoAsk(prompt="waves --bs 2", image_url=START, batch=1), "give it once"),
    (VideoAsk(prompt="waves", image_url=START, batch=3), "1, 2 or 4"),
])
def test_video_plan_refusals(ask: VideoAsk, words: str) -> None:
    with pytest.raises(BadInput, match=words):
        video_plan(ask)


def test_a_prompt_too_long_once_the_links_are_in_is_refused() -> None:
    long_link = "https://cdn.example.com/" + "a" * 990 + ".png"
    with pytest.raises(PromptError, match="too long once the image links"):
        # Discord sends at most 6000 characters and links are at most 1024: this guards the API's 8192 anyway
        video_plan(VideoAsk(prompt="w" * 7000 + f" --end {long_link}", image_url=long_link, image_name="x.png"))


def test_video_prices() -> None:
    """legnext-notes.md: 480 / 1536 points for a video job of the default four clips; `--bs` scales it."""
    assert [video_points(0, b) for b in (1, 2, 4)] == [120, 240, 480]
    assert [video_points(1, b) for b in (1, 2, 4)] == [384, 768, 1536]
    assert points_for("video_diffusion", {"jobId": "g", "imageNo": 0, "prompt": "a fox --motion low"}) == 480
    assert points_for("extend_video", {"jobId": "w", "videoNo": 0}) == 480
    assert points_for("video_upscale", {"jobId": "w", "videoNo": 0}) == 480


# ------------------------------------------------------------------------------------------------------ buttons

def video_job(*, clips: int = 4, status: str = "completed", task_type: str = "video_diffusion",
              available: dict[str, Any] | None = None, extensions: int = 0, **more: Any) -> JobRecord:
    now = time.time()
    idx = list(range(clips))
    output = {"video_urls": [f"https://cdn.legnext.ai/v/{i}.mp4" for i in range(clips)], "seed": "7",
              "available_actions": available if available is not None else {"extend": idx, "upscale": idx}}
    fields: dict[str, Any] = dict(
        id=1, task_type=task_type, action="video", requester_id=444, status=status, created_at=now, updated_at=now,
        job_id="w0", prompt="sea.png waves --bs 4", request={"prompt": f"{START} waves --raw --bs 4", "videoType": 1},
        extra={"model": "video", "describes": "Video", "extensions": extensions, "resolution": "720p"},
        guild_id=111, channel_id=222, output=output if status == "completed" else None, submitted_at=now - 30,
    )
    fields.update(more)
    return JobRecord(**fields)


def labels(view: discord.ui.View | None) -> list[list[str]]:
    if view is None:
        return []
    rows: dict[int, list[str]] = {}
    for item in view.children:
        assert isinstance(item, discord.ui.DynamicItem)
        rows.setdefault(item.item.row or 0, []).append(str(item.item.label))
    return [rows[r] for r in sorted(rows)]


def test_press_launch_extend_and_upscale() -> None:
    src = video_job()
    what = press_launch("video_extend_high", src, 2, 1, upload_limit=8 * 1024 * 1024)
    assert what.request.body() == {"jobId": "w0", "videoNo": 2, "prompt": "waves --raw --motion high"}
    assert what.extra["extensions"] == 2 and what.extra["resolution"] == "720p"
    assert what.extra["describes"] == "Extended (High motion) (clip 3)" and what.extra["upload_limit"] == 8388608
    assert what.dedupe_key == "video_extend_high:w0:2" and what.parent_job_id == "w0" and what.image_no == 2
    up = press_launch("video_upscale", src, 0, 3)
    assert up.request.body() == {"jobId": "w0", "videoNo": 0} and up.extra["extensions"] == 3


@pytest.mark.parametrize(("action", "job", "index", "extensions", "words"), [
    ("video_extend_low", video_job(), 0, MAX_EXTENSIONS, "already extended 4 times"),
    ("video_extend_low", video_job(clips=1), 1, 0, "isn't offered"),
    ("video_upscale", video_job(available={"upscale": [1]}), 0, 0, "isn't offered"),
    ("video_extend_low", video_job(available={"upscale": [0, 1, 2, 3]}), 0, 0, "isn't offered"),
    ("video_extend_low", video_job(task_type="video_upscale"), 0, 0, "only works on the clips"),
    ("video_extend_low", video_job(task_type="diffusion"), 0, 0, "only works on the clips"),
    ("nope", video_job(), 0, 0, "no longer supported"),
])
def test_press_launch_refusals(action: str, job: JobRecord, index: int, extensions: int, words: str) -> None:
    with pytest.raises(NotAvailable, match=words):
        press_launch(action, job, index, extensions)


# ------------------------------------------------------------------------------------------------------ screens

def test_a_finished_video_numbers_its_clips_and_buttons() -> None:
    r = render_job(video_job(), attached=[f"w0_{n}.mp4" for n in range(1, 5)])
    assert labels(r.view) == [[f"Extend {n} (Low motion)", f"Extend {n} (High motion)", f"Upscale {n}"]
                              for n in range(1, 5)]
    assert r.embed is not None
    field = r.embed.fields[0]
    assert field.name == "4 clips · 720p" and field.value == "\n".join(f"**{n}** · `w0_{n}.mp4`" for n in range(1, 5))
    assert r.embed.footer.text is not None and r.embed.footer.text.startswith("Video · seed 7 · job w0")
    assert r.content == "**sea.png waves --bs 4** - Video by <@444>"


def test_one_clip_has_plain_labels_and_links_when_not_attached() -> None:
    r = render_job(video_job(clips=1))
    assert labels(r.view) == [["Extend (Low motion)", "Extend (High motion)", "Upscale"]]
    assert r.embed is not None and r.embed.fields[0].value == "**1** · [clip 1](https://cdn.legnext.ai/v/0.mp4)"


def test_buttons_follow_available_actions_and_the_extension_limit() -> None:
    assert labels(render_job(video_job(clips=2, available={"upscale": [1], "extend": [0]})).view) == [
        ["Extend 1 (Low motion)", "Extend 1 (High motion)"], ["Upscale 2"]]
    assert render_job(video_job(available={})).view is None
    assert render_job(video_job(available=None, output=None)).view is None
    last = render_job(video_job(clips=1, task_type="extend_video", extensions=MAX_EXTENSIONS))
    assert labels(last.view) == [["Upscale"]]
    assert last.embed is not None and "4 of 4 times" in str(last.embed.fields[1].value)
    assert render_job(video_job(clips=1, task_type="video_upscale", available={})).view is None


def test_a_running_video_shows_the_time_elapsed() -> None:
    started = time.time() - 42
    running = render_job(video_job(status="processing", started_at=started))
    assert f"(Running, started <t:{int(started)}:R>)" in running.content and running.view is None
    waiting = render_job(video_job(status="pending"))
    assert "(Waiting to start)" in waiting.content and "Sent to Legnext <t:" in waiting.content
    upscale = render_job(video_job(status="processing", task_type="video_upscale", started_at=started))
    assert "4 to 6 minutes" in upscale.content


def test_a_failed_video_says_why_without_buttons() -> None:
    r = render_job(video_job(status="failed", error="failed to fetch image: not an image"))
    assert r.view is None and r.embed is not None and r.embed.title == "This job failed"
    assert "not an image" in str(r.embed.description)
    assert r.embed.footer.text is not None and r.embed.footer.text.startswith("Video")


def test_long_links_still_fit_the_field() -> None:
    urls = [f"https://cdn.legnext.ai/{'x' * 600}/{i}.mp4" for i in range(4)]
    job = video_job(output={"video_urls": urls, "available_actions": {"upscale": [0, 1, 2, 3]}})
    r = render_job(job)
    assert r.embed is not None
    value = str(r.embed.fields[0].value)
    assert len(value) <= 1024 and value.count("\n") == 3 and "**4**" in value


# ------------------------------------------------------------------------------------------------------ lineage

async def test_extensions_are_counted_along_the_parent_chain(tmp_path: Path) -> None:
    """Records that carry no count (made before it was kept, or by another path) are counted by their ancestry;
    a chain that loops back on itself ends."""
    async with Database(tmp_path / "bot.sqlite3") as db:
        jobs = JobRepo(db)
        cog = Video(launcher=None, jobs=jobs, reporter=None, max_image_mb=10, moderator_role_ids=[])  # type: ignore[arg-type]
        parent: str | None = None
        made: list[JobRecord] = []
        for n, task in enumerate(("video_diffusion", "extend_video", "extend_video", "extend_video")):
            job = await jobs.create(task_type=task, action="x", requester_id=1, parent_job_id=parent, guild_id=111)
            made.append(await jobs.update(job.id, job_id=f"w{n}", status="completed"))
            parent = f"w{n}"
        assert [await cog.lineage_extensions(j) for j in made] == [0, 1, 2, 3]
        await db.execute("UPDATE jobs SET parent_job_id = 'w3' WHERE job_id = 'w1'")  # a loop
        assert await cog.lineage_extensions(made[3]) == 3
        recorded = await jobs.update(made[1].id, extra={"extensions": 4})
        assert await cog.lineage_extensions(recorded) == 4
