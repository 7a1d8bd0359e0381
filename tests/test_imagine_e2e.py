"""/imagine and its failures, as the member sees them (real bot, fake Discord, Legnext simulator)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.core.errors import Alert, user_message
from bot.legnext import errors as api
from bot.legnext.simulator import RecordedRequest
from bot.ui.presenter import ALERT_TEXT
from tests.fakediscord import FakeInteraction, FakeMessage
from tests.harness import ALICE, BOB, CHANNEL, GUILD, H, harness

PNG = b"\x89PNG\r\n\x1a\n"
ALERTS = 900_000_000_000_000_001  # the moderators' alert channel (added to the fake in each test that uses it)


# ------------------------------------------------------------------------------------------------------ helpers

def posts(h: H) -> list[RecordedRequest]:
    return [r for r in h.sim.requests if r.method == "POST" and r.path.startswith("/v1/")]


def first_content(msg: FakeMessage) -> str:
    """What the message read when it was posted (before any edit)."""
    return str(msg.history[0]["content"]) if msg.history else msg.content


def job_message_id(answer: FakeMessage) -> int:
    m = re.search(rf"https://discord\.com/channels/{GUILD}/{CHANNEL}/(\d+)", answer.content)
    assert m, f"no link to the job message in {answer.content!r}"
    return int(m.group(1))


async def imagine_result(h: H, prompt: str, user_id: int = ALICE) -> tuple[FakeInteraction, FakeMessage]:
    inter = await h.imagine(prompt, user_id=user_id)
    answer = await inter.wait_done()
    assert answer.ephemeral and answer.content.startswith("Started: "), answer
    msg = await h.result(lambda m: m.id == job_message_id(answer))
    return inter, msg


async def refused(h: H, prompt: str) -> str:
    """/imagine that must be refused: the ephemeral sentence."""
    inter = await h.imagine(prompt)
    answer = await inter.wait_done()
    assert answer.ephemeral, answer
    assert not answer.content.startswith("Started"), answer.content
    return answer.content


async def raw_imagine(h: H, prompt: str) -> FakeInteraction:
    """/imagine with a value Discord's client would not let through (the fake's `slash` checks option lengths)."""
    cmd = h.fake.find_command("imagine", GUILD)
    data: dict[str, Any] = {"id": cmd["id"], "name": "imagine", "type": 1,
                            "options": [{"name": "prompt", "type": 3, "value": prompt}]}
    if cmd.get("guild_id"):
        data["guild_id"] = cmd["guild_id"]
    inter = await h.fake._send_interaction(2, data, user_id=ALICE, channel_id=CHANNEL, guild_id=GUILD)
    await inter.wait_response()
    return inter


def alerts(h: H) -> list[FakeMessage]:
    return h.fake.channel_messages(ALERTS)


# ------------------------------------------------------------------------------------------------------ success

async def test_imagine_waiting_then_result(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        inter, msg = await imagine_result(h, "a red fox in the snow --ar 3:2")
        assert first_content(msg) == f"**a red fox in the snow --ar 3:2** - <@{ALICE}> (Waiting to start)"
        assert msg.content == f"**a red fox in the snow --ar 3:2** - <@{ALICE}>"
        assert not msg.ephemeral and msg.edits >= 1

        job = (await h.bot.jobs_repo.all())[-1]
        assert job.status == "completed" and job.message_id == msg.id
        (att,) = msg.attachments
        assert att["data"].startswith(PNG)
        assert att["filename"].endswith(".png")
        (embed,) = msg.embeds
        assert embed["image"]["url"] == f"attachment://{att['filename']}"
        footer = embed["footer"]["text"]
        assert footer == f"V7 · seed {job.output['seed']} · job {job.job_id} · 80 points"  # type: ignore[index]

        # the requester's ephemeral answer links to the job message
        answer = inter.last_message
        assert answer is not None and answer.ephemeral
        assert answer.content == f"Started: https://discord.com/channels/{GUILD}/{CHANNEL}/{msg.id}"

        (req,) = posts(h)
        assert req.path == "/v1/diffusion" and req.json == {"text": "a red fox in the snow --ar 3:2"}


async def test_imagine_command_limits(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        (opt,) = h.fake.find_command("imagine", GUILD)["options"]
        assert (opt["name"], opt["required"], opt["min_length"], opt["max_length"]) == ("prompt", True, 1, 6000)


async def test_bad_prompts_cost_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        cases = {
            "a cat --chaos 150": "--chaos",
            "a cat --repeat 3": "--repeat",
            "{a,b} cat": "{a, b}",
            "a cat --v 8.1 --no cars": "--no",
            "   ": "empty",
        }
        for prompt, named in cases.items():
            text = await refused(h, prompt)
            assert named in text, (prompt, text)
            assert "\\" not in text, text  # the sentence's markdown is not escaped into backslashes
        # longer than Discord lets through: refused by the bot too
        inter = await raw_imagine(h, "x" * 8193)
        answer = await inter.wait_done()
        assert answer.ephemeral
        assert "8,192" in answer.content, answer.content
        assert h.sim.count("POST") == 0
        assert await h.bot.jobs_repo.all() == []


async def test_settings_defaults_are_appended(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        panel = await h.fake.slash("settings")
        await panel.wait_response()
        assert panel.ephemeral and panel.message is not None
        for placeholder, value in (("Aspect ratio", "16:9"), ("Model version", "6.1")):
            chosen = await h.fake.select(panel.message.id, placeholder, [value])
            await chosen.wait_response()
            assert chosen.response_type == 7

        await imagine_result(h, "a cat")
        assert posts(h)[-1].json == {"text": "a cat --v 6.1 --ar 16:9"}

        await imagine_result(h, "a dog --ar 1:1")
        text = posts(h)[-1].json["text"]
        assert "--ar 1:1" in text and "16:9" not in text
        assert text.count("--ar") == 1

        # bob has no defaults
        await imagine_result(h, "a bird", user_id=BOB)
        assert posts(h)[-1].json == {"text": "a bird"}


# ------------------------------------------------------------------------------------------------------ API errors

async def test_out_of_credits_alerts_once(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs={"balance": 50}, moderation={"alert_channel_id": ALERTS}) as h:
        h.fake.add_channel(ALERTS, "mod-alerts")
        sentence = user_message(api.OutOfCredits())
        assert await refused(h, "a cat") == sentence
        assert await refused(h, "a dog") == sentence
        # the alert names what is left (one balance read)
        left = " Available: **50** spendable points ($0.05)."
        assert [m.content for m in alerts(h)] == [ALERT_TEXT[Alert.OUT_OF_CREDITS] + left]
        assert alerts(h)[0].allowed_mentions == {"parse": []}
        assert h.sim.jobs == {}
        assert {j.status for j in await h.bot.jobs_repo.all()} == {"failed"}


async def test_content_refused(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.refused_words = {"forbidden"}
        text = await refused(h, "a forbidden thing")
        assert text.startswith("Your prompt was refused by Legnext's content filter"), text
        assert "Nothing was charged" in text
        assert h.sim.jobs == {}


async def test_bad_api_key_alerts(tmp_path: Path) -> None:
    """The key worked at start (it is checked then), and was revoked later."""
    async with harness(tmp_path, moderation={"alert_channel_id": ALERTS}) as h:
        h.sim.api_key = "rotated-key"
        h.fake.add_channel(ALERTS, "mod-alerts")
        assert await refused(h, "a cat") == user_message(api.AuthError())
        assert [m.content for m in alerts(h)] == [ALERT_TEXT[Alert.BAD_KEY]]
        assert "sim-api-key" not in "".join(m.content for m in h.fake.messages.values())


async def test_server_error_on_submit_is_never_resent(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.inject_error(500, count=1, path="/v1/diffusion", create_job=True)
        text = await refused(h, "a cat")
        assert text == user_message(api.SubmitOutcomeUnknown())
        assert h.sim.count("POST", "/v1/diffusion") == 1
        (job,) = await h.bot.jobs_repo.all()
        assert job.status == "unknown"
        assert len(h.sim.jobs) == 1  # it did start on Legnext's side, and was not started twice


async def test_submit_timeout_is_never_resent(tmp_path: Path) -> None:
    async with harness(tmp_path, legnext={"timeout_s": 0.3}) as h:
        h.sim.hang_next_submit(0.6)
        text = await refused(h, "a cat")
        assert text == user_message(api.SubmitOutcomeUnknown())
        assert h.sim.count("POST", "/v1/diffusion") == 1
        (job,) = await h.bot.jobs_repo.all()
        assert job.status == "unknown"
        # the next /imagine works normally
        await imagine_result(h, "a dog")
        assert h.sim.count("POST", "/v1/diffusion") == 2


async def test_failed_job_shows_the_reason(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.sim.fail_next_job("task failed", raw_message="midjourney: the image could not be made")
        _, msg = await imagine_result(h, "a cat")
        assert first_content(msg).endswith("(Waiting to start)")
        (embed,) = msg.embeds
        assert embed["title"] == "This job failed"
        assert "the image could not be made" in embed["description"]
        assert msg.content.endswith("(Failed)")
        assert msg.buttons() == [] and msg.attachments == []


async def test_stuck_job_times_out(tmp_path: Path) -> None:
    async with harness(tmp_path, jobs={"timeout_image_s": 1.0}) as h:
        h.sim.keep_stuck()
        _, msg = await imagine_result(h, "a cat")
        (embed,) = msg.embeds
        assert embed["title"] == "This job's outcome is unknown"
        assert "did not finish" in embed["description"] and "its result will appear here" in embed["description"]
        (job,) = await h.bot.jobs_repo.all()
        assert job.status == "unknown"

        # it finishes after all: the late result replaces the reason, in the same message
        assert job.job_id is not None
        h.sim.complete_now(job.job_id)
        h.bot.tracker.poke(job.id)
        done = await h.fake.wait_for(lambda: bool(h.fake.messages[msg.id].attachments), timeout=10)
        assert done and h.fake.messages[msg.id].buttons()
        assert (await h.bot.jobs_repo.get(job.id)).status == "completed"  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------------ text safety

async def test_mentions_never_ping(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        _, msg = await imagine_result(h, "@everyone <@555> look @here")
        assert "@everyone" not in msg.content and "@here" not in msg.content
        assert "@\u200beveryone" in msg.content
        assert "@everyone" not in (msg.embeds[0].get("description") or "")
        sent = [m for m in h.fake.messages.values() if m.content]
        assert len(sent) >= 2
        for m in sent:
            assert m.allowed_mentions is not None, m
            assert m.allowed_mentions.get("parse") == [], m
            assert not m.allowed_mentions.get("users") and not m.allowed_mentions.get("roles"), m
            assert h.fake.message_payload(m)["mentions"] == []
        bodies = [c.json for c in h.fake.calls if isinstance(c.json, dict) and c.json.get("content")]
        assert bodies
        for body in bodies:
            assert body.get("allowed_mentions", {}).get("parse") == [], body


async def test_markdown_is_escaped_and_long_prompts_fit(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        _, msg = await imagine_result(h, "**bold** _x_ ~~gone~~ `code`")
        assert msg.content.startswith("**\\*\\*bold\\*\\* \\_x\\_ \\~\\~gone\\~\\~ \\`code\\`** - ")

        long_prompt = " ".join(["a very long prompt about foxes"] * 170)[:5000]
        assert len(long_prompt) == 5000
        _, msg = await imagine_result(h, long_prompt)
        assert len(msg.content) <= 2000
        assert msg.content.endswith(f"<@{ALICE}>")
        assert len(first_content(msg)) <= 2000
        assert len(msg.embeds[0]["description"]) <= 4096
        assert posts(h)[-1].json == {"text": long_prompt}
        assert msg.attachments


async def test_max_running_per_member(tmp_path: Path) -> None:
    async with harness(tmp_path, limits={"running_per_member": 1, "queued_per_member": 0}) as h:
        h.sim.keep_stuck()
        inter = await h.imagine("a cat")
        await inter.wait_done()
        text = await refused(h, "a dog")
        assert "You already have 1 running and 0 waiting" in text, text
        assert h.sim.count("POST", "/v1/diffusion") == 1
        # another member is not held back
        inter = await h.imagine("a bird", user_id=BOB)
        assert (await inter.wait_done()).content.startswith("Started: ")
        assert h.sim.count("POST", "/v1/diffusion") == 2


# ------------------------------------------------------------------------------------------------------ images

async def test_image_link_when_rehosting_fails(tmp_path: Path) -> None:
    async with harness(tmp_path, jobs={"max_download_mb": 0.00001}) as h:
        _, msg = await imagine_result(h, "a cat")
        assert msg.attachments == []
        url = msg.embeds[0]["image"]["url"]
        job = (await h.bot.jobs_repo.all())[-1]
        assert job.output is not None and url == job.output["image_url"]
        assert url.startswith(h.sim.base_url.rsplit("/api", 1)[0])
        assert msg.labels()[:4] == ["U1", "U2", "U3", "U4"]


async def test_image_link_without_rehosting(tmp_path: Path) -> None:
    async with harness(tmp_path, jobs={"rehost_images": False}) as h:
        _, msg = await imagine_result(h, "a cat")
        assert msg.attachments == []
        job = (await h.bot.jobs_repo.all())[-1]
        assert job.output is not None and msg.embeds[0]["image"]["url"] == job.output["image_url"]
        # nothing was downloaded
        assert not [r for r in h.sim.requests if r.path.startswith("/files/")]
