"""Inputs a server member can produce from a chat box, against the real bot (fake Discord + Legnext simulator).

Forged components, odd select values, hostile prompts, deleted messages: every one gets an answer, nothing
ERROR-logs, nothing pings, nothing is spent on input that can't be right, and nothing Discord would reject is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakediscord import FakeInteraction, FakeMessage
from tests.harness import ALICE, BOB, H, harness
from tests.test_buttons_e2e import follow_up, grid, last_post, modal_inputs, posts, toggle_setting, upscale

MANY = {"running_per_member": 50}


def plant(msg: FakeMessage, custom_id: str, *, select: bool = False, options: list[str] | None = None) -> None:
    """Add a component with a forged custom_id to a message, as a modified client could send it."""
    if select:
        comp: dict[str, Any] = {"type": 3, "custom_id": custom_id, "min_values": 1, "max_values": 25,
                                "options": [{"label": v, "value": v} for v in options or ["1"]]}
    else:
        comp = {"type": 2, "style": 2, "label": "forged", "custom_id": custom_id}
    msg.components = [*msg.components[:4], {"type": 1, "components": [comp]}]


async def press_forged(h: H, msg: FakeMessage, custom_id: str, user_id: int = ALICE) -> FakeInteraction:
    plant(msg, custom_id)
    msg.components = msg.components[-1:]
    inter = await h.fake.click(msg.id, custom_id=custom_id, user_id=user_id)
    await inter.wait_response()
    return inter


async def answer(inter: FakeInteraction) -> str:
    got = await inter.wait_done()
    assert got.ephemeral, got
    return got.content


async def test_forged_custom_ids_on_buttons_are_answered_and_spend_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, g = await grid(h)
        before = len(posts(h))
        forged = [
            f"mj:v1:vary_subtle:{g}:7",     # index out of the grid
            f"mj:v1:animate_low:{g}:9",      # index out of the grid, action with no availability list
            f"mj:v1:zoom_2:{g}:42",
            f"mj:v1:nope:{g}:0",             # unknown action
            f"mj:v1:modal:{g}:0",            # the modal id, pressed as a button
            "mj:v1:u1:doesnotexist:0",       # no such job
            f"mj:v1:set_bogus:{g}:0",        # unknown setting
            f"mj:v1:sel_region:{g}:0:123",   # a select's id on a button
            f"mj:v1:sel_set_version:{g}:0",
        ]
        for cid in forged:
            inter = await press_forged(h, g_msg, cid)
            assert inter.modal is None, cid
            text = await answer(inter)
            assert "went wrong" not in text, (cid, text)
        assert len(posts(h)) == before, [(r.path, r.json) for r in posts(h)[before:]]
        jobs = [j for j in await h.bot.jobs_repo.unfinished()]
        assert jobs == []


async def test_a_button_id_on_a_select_is_answered(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, g = await grid(h)
        before = len(posts(h))
        cid = f"mj:v1:nope:{g}:0"
        plant(g_msg, cid, select=True, options=["1"])
        g_msg.components = g_msg.components[-1:]
        inter = await h.fake.select(g_msg, cid, ["1"])
        await inter.wait_response()
        assert "no longer supported" in await answer(inter)
        assert len(posts(h)) == before


async def test_region_select_with_values_not_offered(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, _ = await grid(h)
        up = await upscale(h, g_msg, 2)
        before = len(posts(h))
        odd = [["0"], ["10"], ["x"], ["1234567890123456789"], ["\u00b2"], ["1", "01"], ["-1"], [""],
               [str(i) for i in range(1, 10)] + ["1" * 20]]
        for values in odd:
            inter = await h.fake.click(up.id, "Vary (Region)")
            await inter.wait_response()
            assert inter.message is not None
            sel = inter.message.selects()[0]
            sel["options"] = [{"label": v or "empty", "value": v} for v in dict.fromkeys(values)]
            sel["max_values"] = 25
            picked = await h.fake.select(inter.message, sel["custom_id"], values)
            await picked.wait_response()
            assert picked.modal is None, values  # refused before the modal, not after it was filled in
            assert "region" in await answer(picked), values
        assert len(posts(h)) == before


async def test_two_members_remixing_the_same_image_both_get_answers(tmp_path: Path) -> None:
    """Both open the remix modal of V1 on the same grid; each submission starts that member's own job."""
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, _ = await grid(h)
        await toggle_setting(h, "Remix mode", user_id=ALICE)
        await toggle_setting(h, "Remix mode", user_id=BOB)
        a = await h.fake.click(g_msg.id, "V1", user_id=ALICE)
        await a.wait_response()
        b = await h.fake.click(g_msg.id, "V1", user_id=BOB)
        await b.wait_response()
        ((name, _),) = modal_inputs(a).items()
        sub_a = await h.fake.submit_modal(a, {name: "a fox by alice"}, user_id=ALICE)
        await follow_up(h, g_msg, sub_a)
        assert last_post(h).json["remixPrompt"] == "a fox by alice"
        sub_b = await h.fake.submit_modal(b, {name: "a fox by bob"}, user_id=BOB)
        await sub_b.wait_response(timeout=5)
        await follow_up(h, g_msg, sub_b)
        assert last_post(h).json["remixPrompt"] == "a fox by bob"


async def test_remix_modal_keeps_the_button_it_was_opened_from(tmp_path: Path) -> None:
    """V2 on the grid and Vary (Subtle) on the upscale of image 2 share (job, image): their modals must not mix."""
    async with harness(tmp_path, limits=MANY) as h:
        g_msg, g = await grid(h)
        up = await upscale(h, g_msg, 2)
        await toggle_setting(h, "Remix mode", user_id=ALICE)
        await toggle_setting(h, "Remix mode", user_id=BOB)
        a = await h.fake.click(g_msg.id, "V2", user_id=ALICE)
        await a.wait_response()
        b = await h.fake.click(up.id, "Vary (Subtle)", user_id=BOB)
        await b.wait_response()
        ((name, _),) = modal_inputs(a).items()
        sub_a = await h.fake.submit_modal(a, {name: "a fox by alice"}, user_id=ALICE)
        await follow_up(h, g_msg, sub_a)
        assert last_post(h).json == {"jobId": g, "imageNo": 1, "type": 1, "remixPrompt": "a fox by alice"}


async def test_invisible_or_non_ascii_digit_prompts_are_refused_before_spending(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        for prompt, words in [
            ("\u200b\u200b\u200b", "empty"),                 # zero-width spaces only
            ("\u200f\u202e\u2060", "empty"),                 # direction marks, word joiner
            ("\u3164 --ar 16:9", "empty"),                   # Hangul filler: shows nothing
            ("a cat --ar \uff11\uff16:\uff19", "--ar"),      # full-width digits
            ("a cat --s \u0661\u0660\u0660", "--s"),         # Arabic-Indic digits
        ]:
            inter = await h.imagine(prompt)
            text = await answer(inter)
            assert words in text, (prompt, text)
        assert posts(h) == []
        # visible text around invisible characters is fine
        inter = await h.imagine("\u200ba cat\u200f --ar 16:9")
        assert (await answer(inter)).startswith("Started: ")


async def test_remix_prompt_with_phone_dashes_is_normalised(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        g_msg, _ = await grid(h)
        await toggle_setting(h, "Remix mode")
        inter = await h.fake.click(g_msg.id, "V1")
        await inter.wait_response()
        ((name, _),) = modal_inputs(inter).items()
        sub = await h.fake.submit_modal(inter, {name: "a blue fox\n\u2014ar 3:2"})
        await follow_up(h, g_msg, sub)
        assert last_post(h).json["remixPrompt"] == "a blue fox --ar 3:2"


async def test_hostile_prompt_is_shown_without_pings_or_markdown(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        prompt = "<@555> <@&777> @here @everyone ```x``` **b** ||s|| [l](https://e.example) " + "y" * 5900
        inter = await h.imagine(prompt)
        assert (await answer(inter)).startswith("Started: ")
        msg = await h.result()
        assert msg.allowed_mentions is not None and msg.allowed_mentions.get("parse") == []
        assert "@\u200bhere" in msg.content and "@\u200beveryone" in msg.content
        assert "\\*\\*b\\*\\*" in msg.content and "\\[l\\]\\(https" in msg.content  # no masked link survives
        assert len(msg.content) <= 2000 and msg.content.endswith(f"<@{ALICE}>")
        assert all(len(e.get("description") or "") <= 4096 for e in msg.embeds)


async def test_deleted_job_message_is_posted_anew(tmp_path: Path) -> None:
    async with harness(tmp_path, sim_kwargs={"durations": {"diffusion": 1.5}}) as h:
        inter = await h.imagine("a red fox in the snow")
        assert (await answer(inter)).startswith("Started: ")
        job = (await h.bot.jobs_repo.unfinished())[0]
        assert job.message_id is not None
        first = h.fake.messages[job.message_id]
        first.deleted = True  # a moderator deleted the job message while it ran
        msg = await h.result()
        assert msg.id != first.id and msg.buttons()
        done = await h.finished_job_message(job.id)
        assert done.id == msg.id


async def test_a_form_submitted_after_it_expired_gets_an_answer(tmp_path: Path) -> None:
    """A modal whose handler is gone (expired, or the bot restarted) must not end in 'interaction failed'."""
    async with harness(tmp_path) as h:
        message, _ = await grid(h)
        await toggle_setting(h, "Remix mode")
        opened = await h.fake.click(message.id, "V1")
        await opened.wait_response()
        assert opened.modal is not None
        # the form outlives its handler, as after 15 minutes or a restart
        store = h.bot._connection._view_store
        for modal in list(store._modals.values()):
            modal.stop()
        store._modals.clear()
        before = h.sim.count("POST")
        late = await h.fake.submit_modal(opened, {"New prompt for the image": "a loud harbour"})
        await late.wait_response(timeout=5)
        assert late.ephemeral
        assert "expired" in late.content
        assert h.sim.count("POST") == before
