"""/blend end to end: uploaded images checked before any call, sent as Discord gave them (signed URLs intact, in
order), the result a grid whose buttons work."""

from __future__ import annotations

from pathlib import Path

from bot.legnext.simulator import RecordedRequest
from bot.legnext.simulator.media import make_png
from tests.fakediscord import FakeInteraction, FakeMessage
from tests.harness import H, harness

PNG = make_png(64, 64, ((200, 30, 30),))


def blends(h: H) -> list[RecordedRequest]:
    return [r for r in h.sim.requests if r.method == "POST" and r.path == "/v1/blend"]


def posts(h: H) -> int:
    return sum(1 for r in h.sim.requests if r.method == "POST")


def images(n: int) -> dict[str, tuple[str, bytes, str]]:
    return {f"image{i}": (f"photo{i}.png", PNG, "image/png") for i in range(1, n + 1)}


async def blend(h: H, n: int, **options: str) -> FakeInteraction:
    inter = await h.fake.slash("blend", attachments=images(n), options=dict(options) or None)
    await inter.wait_response()
    return inter


def grid_of(prompt_part: str) -> object:
    def match(m: FakeMessage) -> bool:
        return not m.ephemeral and bool(m.buttons()) and bool(m.attachments) and prompt_part in m.content
    return match


async def test_blend_two_and_five_images_in_order_with_the_dimensions(tmp_path: Path) -> None:
    async with harness(tmp_path, limits={"running_per_member": 5}) as h:
        inter = await blend(h, 2)
        assert (await inter.wait_done()).content.startswith("Started: ")
        (sent,) = blends(h)
        urls = [a["url"] for a in inter.data["resolved"]["attachments"].values()]
        assert sent.json == {"imgUrls": urls, "aspect_ratio": "1:1"}
        assert all("?ex=" in u and "&hm=" in u for u in sent.json["imgUrls"]), "the signed URLs go intact"

        inter = await blend(h, 5, dimensions="3:2")
        assert (await inter.wait_done()).content.startswith("Started: ")
        sent = blends(h)[-1]
        given = {o["name"]: inter.data["resolved"]["attachments"][o["value"]]
                 for o in inter.data["options"] if o["name"].startswith("image")}
        assert sent.json["aspect_ratio"] == "3:2"
        assert sent.json["imgUrls"] == [given[f"image{i}"]["url"] for i in range(1, 6)]
        assert [given[f"image{i}"]["filename"] for i in range(1, 6)] == [f"photo{i}.png" for i in range(1, 6)]

        # the result is a grid with the full grid buttons, and they work
        msg = await h.result(lambda m: "Blend of 5 images" in m.content and bool(m.buttons()))
        assert msg.labels() == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
        press = await h.fake.click(msg.id, "U3")
        assert (await press.wait_done()).content.startswith("Started: ")
        (up,) = [r for r in h.sim.requests if r.method == "POST" and r.path == "/v1/upscale"]
        job = next(j for j in await h.bot.jobs_repo.all() if j.task_type == "blend" and j.message_id == msg.id)
        assert up.json == {"jobId": job.job_id, "imageNo": 2, "type": 0}


async def test_bad_images_are_refused_before_any_call(tmp_path: Path) -> None:
    async with harness(tmp_path, jobs={"max_image_mb": 0.001}) as h:
        inter = await h.fake.slash("blend", attachments={
            "image1": ("a.png", PNG, "image/png"), "image2": ("notes.txt", b"hello", "text/plain")})
        text = (await inter.wait_done()).content
        assert inter.ephemeral and "`image2` must be an image" in text, text

        big = PNG + b"\0" * 2000
        inter = await h.fake.slash("blend", attachments={
            "image1": ("a.png", big, "image/png"), "image2": ("b.png", PNG, "image/png")})
        text = (await inter.wait_done()).content
        assert inter.ephemeral and "`image1` is too large" in text, text
        assert posts(h) == 0


async def test_legnext_fetches_the_signed_links_and_an_expired_link_fails_the_job(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.fetch_hosts = {"127.0.0.1"}  # the fake Discord's CDN
        inter = await blend(h, 2)
        assert (await inter.wait_done()).content.startswith("Started: ")
        await h.result(lambda m: "Blend of 2 images" in m.content and bool(m.buttons()))
        assert h.sim.fetched == blends(h)[0].json["imgUrls"]

        # a link Discord no longer serves (expired): the job fails with the API's reason, shown in the channel
        h.fake.attachment_clock_skew_s = 2 * 86400
        inter = await blend(h, 3)
        assert (await inter.wait_done()).content.startswith("Started: ")
        failed = await h.result(lambda m: "Blend of 3 images" in m.content and "This job failed" in m.text())
        assert "failed to fetch image" in failed.text()
