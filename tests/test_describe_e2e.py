"""/describe as a member uses it: an uploaded image or a link, checked before any call; four prompts and the buttons
`1️⃣`..`4️⃣` `🔄` `🎉 Imagine all` (real bot, fake Discord, Legnext simulator)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord

from bot.__main__ import app_context
from bot.client import MJBot
from bot.legnext.simulator import RecordedRequest, Simulator, running_simulator
from tests.fakediscord import FakeDiscord, FakeInteraction, FakeMessage, run_bot
from tests.harness import ALICE, BOB, CHANNEL, FAST_DURATIONS, GUILD, H, harness, make_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NUMBERS = ["1\ufe0f\u20e3", "2\ufe0f\u20e3", "3\ufe0f\u20e3", "4\ufe0f\u20e3"]
MANY = {"running_per_member": 10}


# ------------------------------------------------------------------------------------------------------ helpers

def posts(h: H | Simulator) -> list[RecordedRequest]:
    sim = h.sim if isinstance(h, H) else h
    return [r for r in sim.requests if r.method == "POST" and r.path.startswith("/v1/")]


def job_message_id(answer: FakeMessage) -> int:
    m = re.search(rf"https://discord\.com/channels/{GUILD}/{CHANNEL}/(\d+)", answer.content)
    assert m, f"no link to a job message in {answer.content!r}"
    return int(m.group(1))


async def shown(fake: FakeDiscord, inter: FakeInteraction) -> FakeMessage:
    """The requester's "Started: <link>" answer, then the job message it links to once it shows its result."""
    await inter.wait_response()
    answer = await inter.wait_done()
    assert answer.ephemeral and answer.content.startswith("Started: "), answer.content
    mid = job_message_id(answer)

    def done(m: FakeMessage) -> bool:
        return m.id == mid and (bool(m.buttons()) or any(e.get("title", "").startswith("This job")
                                                           for e in m.embeds))
    return await fake.wait_message(done, timeout=10)


async def describe(h: H | FakeDiscord, *, user_id: int = ALICE, **given: Any) -> FakeInteraction:
    fake = h.fake if isinstance(h, H) else h
    attachments = {"image": given.pop("image")} if "image" in given else None
    return await fake.slash("describe", options=given or None, attachments=attachments, user_id=user_id)


async def described(h: H | FakeDiscord, **given: Any) -> FakeMessage:
    fake = h.fake if isinstance(h, H) else h
    return await shown(fake, await describe(h, **given))


async def refused(h: H, **given: Any) -> str:
    inter = await describe(h, **given)
    await inter.wait_response()
    answer = await inter.wait_done()
    assert answer.ephemeral and not answer.content.startswith("Started"), answer.content
    return answer.content


async def settled(bot: MJBot, fake: FakeDiscord) -> None:
    """The bot has finished with the members' answers (nothing left to acknowledge)."""
    async def none_left() -> bool:
        return await bot.jobs_repo.unacknowledged() == []
    await fake.wait_for(none_left, timeout=10)


def labels(msg: FakeMessage) -> list[tuple[str | None, str | None]]:
    out = []
    for row in msg.components:
        for c in row.get("components", []):
            out.append((c.get("label"), (c.get("emoji") or {}).get("name")))
    return out


# ------------------------------------------------------------------------------------------------------ success

async def test_describe_an_upload_shows_four_prompts_and_six_buttons(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        inter = await describe(h, image=("cat.png", PNG, "image/png"))
        (uploaded,) = inter.data["resolved"]["attachments"].values()
        msg = await shown(h.fake, inter)
        (req,) = posts(h)
        assert req.path == "/v1/describe"
        url = req.json["imgUrl"]
        assert url == uploaded["url"]  # the attachment's own URL, query string intact
        assert "?" in url and re.search(r"[?&]ex=[0-9a-f]+&is=[0-9a-f]+&hm=", url), url
        job = (await h.bot.jobs_repo.all())[-1]
        assert job.task_type == "describe" and job.request == {"imgUrl": url}

        (embed,) = msg.embeds
        assert embed["thumbnail"]["url"] == url
        desc = embed["description"]
        for n in NUMBERS:
            assert desc.count(n) == 1, desc
        assert len(desc) <= 4096
        assert labels(msg) == [(None, n) for n in NUMBERS] + [(None, "🔄"), ("Imagine all", "🎉")]
        assert msg.content.startswith("**cat.png** - ")


async def test_a_number_opens_its_prompt_and_imagines_it(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await described(h, image=("cat.png", PNG, "image/png"))
        job = (await h.bot.jobs_repo.all())[-1]
        second = job.output["prompts"][1]  # type: ignore[index]
        press = await h.fake.click(msg.id, emoji=NUMBERS[1], user_id=BOB)
        await press.wait_response()
        assert press.modal is not None, press
        (field,) = [c for row in press.modal["components"] for c in row.get("components", [])]
        assert field["value"] == second and field["max_length"] == 4000
        submitted = await h.fake.submit_modal(press, {field["custom_id"]: second + " --chaos 5"}, user_id=BOB)
        diffusion = await shown(h.fake, submitted)
        req = posts(h)[-1]
        assert req.path == "/v1/diffusion" and req.json["text"] == second + " --chaos 5"
        made = await h.bot.jobs_repo.by_message(diffusion.id)
        assert made is not None and made.requester_id == BOB and made.reply_to_id == msg.id


async def test_a_bad_edited_prompt_is_refused_before_any_call(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await described(h, image=("cat.png", PNG, "image/png"))
        press = await h.fake.click(msg.id, emoji=NUMBERS[0])
        await press.wait_response()
        (field,) = [c for row in press.modal["components"] for c in row.get("components", [])]  # type: ignore[index]
        submitted = await h.fake.submit_modal(press, {field["custom_id"]: "a cat --chaos 150"})
        await submitted.wait_response()
        answer = await submitted.wait_done()
        assert answer.ephemeral and "--chaos" in answer.content, answer.content
        assert [r.path for r in posts(h)] == ["/v1/describe"]


async def test_reroll_describes_the_same_image_again_once(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await described(h, image=("cat.png", PNG, "image/png"))
        url = posts(h)[0].json["imgUrl"]
        first = await h.fake.click(msg.id, emoji="🔄")
        second = await h.fake.click(msg.id, emoji="🔄")
        again = await shown(h.fake, first)
        answer = await second.wait_done()
        assert answer.ephemeral and "already requested" in answer.content, answer.content
        describes = [r for r in posts(h) if r.path == "/v1/describe"]
        assert [r.json for r in describes] == [{"imgUrl": url}, {"imgUrl": url}]
        assert labels(again)[-1] == ("Imagine all", "🎉")


async def test_reroll_of_an_expired_link_shows_the_reason(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await described(h, image=("cat.png", PNG, "image/png"))
        h.sim.fail_next_job("task failed", raw_message="image url expired")
        press = await h.fake.click(msg.id, emoji="🔄")
        failed = await shown(h.fake, press)
        (embed,) = failed.embeds
        assert embed["title"] == "This job failed" and "expired" in embed["description"], embed


async def test_imagine_all_starts_four_once(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        msg = await described(h, image=("cat.png", PNG, "image/png"))
        job = (await h.bot.jobs_repo.all())[-1]
        prompts = job.output["prompts"]  # type: ignore[index]
        press = await h.fake.click(msg.id, "Imagine all")
        await press.wait_response()
        answer = await press.wait_done()
        assert answer.ephemeral and answer.content.startswith("Started 4 of 4: "), answer.content
        diffusions = [r.json["text"] for r in posts(h) if r.path == "/v1/diffusion"]
        assert diffusions == prompts
        again = await h.fake.click(msg.id, "Imagine all")
        await again.wait_response()
        answer = await again.wait_done()
        assert answer.ephemeral and "already requested" in answer.content, answer.content
        assert len([r for r in posts(h) if r.path == "/v1/diffusion"]) == 4
        await settled(h.bot, h.fake)


async def test_imagine_all_says_which_were_refused(tmp_path: Path) -> None:
    async with harness(tmp_path, limits={"running_per_member": 2, "queued_per_member": 0}, sim_kwargs={}) as h:
        msg = await described(h, image=("cat.png", PNG, "image/png"))
        h.sim.keep_stuck()  # the started ones keep running
        press = await h.fake.click(msg.id, "Imagine all")
        await press.wait_response()
        answer = await press.wait_done()
        text = answer.content
        assert answer.ephemeral and text.startswith("Started 2 of 4: prompt 1 https://"), text
        assert "prompt 3: You already have 2 running and 0 waiting" in text, text
        assert "prompt 4: You already have 2" in text, text
        assert len([r for r in posts(h) if r.path == "/v1/diffusion"]) == 2
        await settled(h.bot, h.fake)


async def test_describe_a_link(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        link = "https://example.com/pics/cat.png?sig=a_b&x=1"
        msg = await described(h, link=link)
        (req,) = posts(h)
        assert req.json == {"imgUrl": link}
        assert msg.embeds[0]["thumbnail"]["url"] == link


# ------------------------------------------------------------------------------------------------------ refusals

async def test_bad_inputs_are_refused_before_any_call(tmp_path: Path) -> None:
    async with harness(tmp_path, jobs={"max_image_mb": 0.001}) as h:
        both = await refused(h, image=("cat.png", PNG, "image/png"), link="https://example.com/cat.png")
        assert "not both" in both
        neither = await refused(h)
        assert "`image`" in neither and "`link`" in neither
        text = await refused(h, image=("notes.txt", b"hello", "text/plain"))
        assert "must be an image" in text
        big = await refused(h, image=("big.png", PNG + b"\x00" * 4096, "image/png"))
        assert "too large" in big
        ftp = await refused(h, link="ftp://example.com/cat.png")
        assert "http" in ftp
        for local in ("http://127.0.0.1/cat.png", "http://localhost:8080/x.png", "http://[::1]/a.png",
                      "http://169.254.169.254/latest", "http://user:pw@example.com/cat.png"):
            text = await refused(h, link=local)
            assert text, local
        assert posts(h) == []


async def test_no_permission_to_show_results_costs_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        perms = discord.Permissions.all()
        perms.administrator = False
        perms.embed_links = False
        h.fake.set_bot_permissions(CHANNEL, perms)
        text = await refused(h, image=("cat.png", PNG, "image/png"))
        assert "Embed Links" in text, text
        assert posts(h) == []


# ------------------------------------------------------------------------------------------------------ restart

@contextlib.asynccontextmanager
async def one_life(sim: Simulator, fake: FakeDiscord, db: Path, **sections: Any) -> AsyncIterator[MJBot]:
    async with app_context(make_settings(sim, fake, db, **sections)) as bot, run_bot(
            bot, fake, token="fake-discord-token-123456"):
        yield bot


async def test_buttons_work_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with running_simulator(durations=dict(FAST_DURATIONS)) as sim, FakeDiscord(
            guild_id=GUILD, channel_id=CHANNEL) as fake:
        async with one_life(sim, fake, db, limits=MANY):
            msg = await described(fake, image=("cat.png", PNG, "image/png"))
        async with one_life(sim, fake, db, limits=MANY) as bot:
            (job,) = await bot.jobs_repo.all()
            third = job.output["prompts"][2]  # type: ignore[index]
            press = await fake.click(msg.id, emoji=NUMBERS[2])
            await press.wait_response()
            (field,) = [c for row in press.modal["components"] for c in row.get("components", [])]  # type: ignore[index]
            await shown(fake, await fake.submit_modal(press, {field["custom_id"]: third}))
            await shown(fake, await fake.click(msg.id, emoji="🔄"))
            press = await fake.click(msg.id, "Imagine all")
            await press.wait_response()
            answer = await press.wait_done()
            assert answer.content.startswith("Started 4 of 4"), answer.content
            await settled(bot, fake)
        paths = [r.path for r in posts(sim)]
        assert paths.count("/v1/describe") == 2 and paths.count("/v1/diffusion") == 5
        fake.assert_clean()
