"""/shorten as a member uses it: five shorter prompts with `1️⃣`..`5️⃣` (imagine that prompt) and `Show Details`
(real bot, fake Discord, Legnext simulator)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.legnext.simulator import RecordedRequest
from cogs.shorten.render import details_text
from tests.fakediscord import FakeInteraction, FakeMessage
from tests.harness import ALICE, BOB, CHANNEL, GUILD, H, harness

NUMBERS = ["1\ufe0f\u20e3", "2\ufe0f\u20e3", "3\ufe0f\u20e3", "4\ufe0f\u20e3", "5\ufe0f\u20e3"]
PROMPT = "a very small red fox sleeping in the deep snow under the pine trees --ar 3:2"


def posts(h: H) -> list[RecordedRequest]:
    return [r for r in h.sim.requests if r.method == "POST" and r.path.startswith("/v1/")]


def job_message_id(answer: FakeMessage) -> int:
    m = re.search(rf"https://discord\.com/channels/{GUILD}/{CHANNEL}/(\d+)", answer.content)
    assert m, f"no link to a job message in {answer.content!r}"
    return int(m.group(1))


async def shown(h: H, inter: FakeInteraction) -> FakeMessage:
    await inter.wait_response()
    answer = await inter.wait_done()
    assert answer.ephemeral and answer.content.startswith("Started: "), answer.content
    return await h.result(lambda m: m.id == job_message_id(answer))


async def shortened(h: H, prompt: str = PROMPT, user_id: int = ALICE) -> FakeMessage:
    return await shown(h, await h.fake.slash("shorten", options={"prompt": prompt}, user_id=user_id))


async def test_shorten_shows_five_prompts_and_their_buttons(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        (opt,) = h.fake.find_command("shorten", GUILD)["options"]
        assert (opt["name"], opt["required"], opt["min_length"], opt["max_length"]) == ("prompt", True, 1, 6000)
        msg = await shortened(h)
        (req,) = posts(h)
        assert req.path == "/v1/shorten" and req.json == {"prompt": PROMPT}
        job = (await h.bot.jobs_repo.all())[-1]
        prompts = job.output["prompts"]  # type: ignore[index]
        assert len(prompts) == 5
        (embed,) = msg.embeds
        for n, p in zip(NUMBERS, prompts, strict=True):
            assert f"{n} {p}" in embed["description"], embed["description"]
        got = [(c.get("label"), (c.get("emoji") or {}).get("name"))
               for row in msg.components for c in row["components"]]
        assert got == [(None, n) for n in NUMBERS] + [("Show Details", None)]
        assert msg.content.startswith(f"**{PROMPT}** - Shorten by <@{ALICE}>".replace("_", "\\_"))


async def test_a_number_opens_its_prompt_and_imagines_it(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await shortened(h)
        job = (await h.bot.jobs_repo.all())[-1]
        third = job.output["prompts"][2]  # type: ignore[index]
        press = await h.fake.click(msg.id, emoji=NUMBERS[2], user_id=BOB)
        await press.wait_response()
        assert press.modal is not None
        (field,) = [c for row in press.modal["components"] for c in row.get("components", [])]
        assert field["value"] == third
        await shown(h, await h.fake.submit_modal(press, {field["custom_id"]: third}, user_id=BOB))
        req = posts(h)[-1]
        assert req.path == "/v1/diffusion" and req.json["text"] == third
        made = (await h.bot.jobs_repo.all())[-1]
        assert made.requester_id == BOB and made.reply_to_id == msg.id and made.action == "shorten_3"


async def test_show_details_answers_ephemerally(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        msg = await shortened(h)
        press = await h.fake.click(msg.id, "Show Details", user_id=BOB)
        await press.wait_response()
        answer = await press.wait_done()
        assert answer.ephemeral
        assert "Important tokens" in answer.content and "**fox**" in answer.content, answer.content
        assert len(answer.content) <= 2000
        assert [r.path for r in posts(h)] == ["/v1/shorten"]


async def test_bad_prompts_cost_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        for prompt, named in (("a cat --chaos 150", "--chaos"), ("a cat --repeat 3", "--repeat")):
            inter = await h.fake.slash("shorten", options={"prompt": prompt})
            await inter.wait_response()
            answer = await inter.wait_done()
            assert answer.ephemeral and named in answer.content, answer.content
        assert posts(h) == []


class _Job:
    def __init__(self, output: dict[str, Any]) -> None:
        self.output = output


def test_details_are_made_safe_and_cut() -> None:
    final = ("**Important tokens**\n**@everyone** cat ~~the~~ [link](https://x.y) <@123456789012345678> # h\n\n"
             + "word " * 1000)
    text = details_text(_Job({"finalPrompt": final, "description": "d"}))
    assert len(text) <= 2000
    assert "@everyone" not in text and "<@123456789012345678>" not in text
    assert "**Important tokens**" in text and "~~the~~" in text
    assert "\\[link\\]" in text or "\\[link]" in text
    assert details_text(_Job({})) == "Legnext gave no details for this prompt."
