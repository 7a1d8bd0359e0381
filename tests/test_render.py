"""`render_job` is pure: job records in, content / embed / buttons out. No Discord connection.

Views need a running event loop, so the tests are async.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import discord

from bot.storage.jobs import JobRecord
from bot.ui.custom_ids import parse_id
from cogs.imagine.render import Rendered, render_job

G = "5a647267-8b0a-485b-9295-cbff41f450ea"  # a grid job
U = "0ebf5f00-be44-cdad-231d-067a83b7a496"  # an upscale of it
T = 1_700_000_000.0
FULL_ACTIONS: dict[str, Any] = {
    "edit": [0, 1, 2, 3], "inpaint": [0, 1, 2, 3], "outpaint": [0, 1, 2, 3], "pan": [0, 1, 2, 3],
    "remix": [0, 1, 2, 3], "reroll": True, "upscale": [0, 1, 2, 3], "variation": [0, 1, 2, 3],
}
V8_ACTIONS: dict[str, Any] = {"edit": [0, 1, 2, 3], "remix": [0, 1, 2, 3], "reroll": True, "variation": [0, 1, 2, 3]}
GRID_ROWS = [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
UPSCALED_ROWS = [
    ["Upscale (Subtle)", "Upscale (Creative)"],
    ["Vary (Subtle)", "Vary (Strong)", "Vary (Region)"],
    ["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom"],
    ["⬅️", "➡️", "⬆️", "⬇️"],
    ["Animate (Low motion)", "Animate (High motion)"],
]


def grid_output(actions: dict[str, Any] | None = FULL_ACTIONS) -> dict[str, Any]:
    out: dict[str, Any] = {
        "image_url": f"https://cdn.legnext.ai/temp/{G}/grid.png",
        "image_urls": [f"https://image.legnext.ai/{G}/{i}.png?Expires=1&Signature=x" for i in range(4)],
        "seed": "1234",
    }
    if actions is not None:
        out["available_actions"] = actions
    return out


def job(**changes: Any) -> JobRecord:
    base = JobRecord(id=7, task_type="diffusion", action="imagine", requester_id=444, status="pending",
                     created_at=T, updated_at=T, prompt="a red fox --ar 3:2", extra={"model": "7"},
                     guild_id=111, channel_id=222, frozen_points=80)
    return dataclasses.replace(base, **changes)


def grid_job(**changes: Any) -> JobRecord:
    values: dict[str, Any] = dict(status="completed", job_id=G, output=grid_output(), consumed_points=80,
                                  submitted_at=T, started_at=T + 5, finished_at=T + 40)
    values.update(changes)
    return job(**values)


def upscale_job(model: str = "7", parent_actions: dict[str, Any] | None = FULL_ACTIONS, **changes: Any) -> JobRecord:
    values: dict[str, Any] = dict(
        task_type="upscale", action="u3", status="completed", job_id=U, parent_job_id=G, image_no=2,
        output={"image_url": f"https://image.legnext.ai/{U}/0.png", "image_urls": [], "seed": "99"},
        extra={"model": model, "source_task": "diffusion", "describes": "Image #3", "parent_actions": parent_actions},
        consumed_points=120,
    )
    values.update(changes)
    return job(**values)


def rows(r: Rendered) -> list[list[str]]:
    assert r.view is not None
    out = []
    for row in r.view.to_components():
        assert row["type"] == 1
        out.append([c.get("label") or c["emoji"]["name"] for c in row["components"]])
    return out


def buttons(r: Rendered) -> list[dict[str, Any]]:
    assert r.view is not None
    return [c for row in r.view.to_components() for c in row["components"]]


def custom_ids(r: Rendered) -> dict[str, str]:
    return {c.get("label") or c["emoji"]["name"]: c["custom_id"] for c in buttons(r)}


# ------------------------------------------------------------------------------------------------------ running

async def test_waiting() -> None:
    for status in ("submitting", "pending", "staged"):
        r = render_job(job(status=status))
        assert r.content == "**a red fox --ar 3:2** - <@444> (Waiting to start)"
        assert r.embed is None and r.view is None


async def test_processing_shows_a_relative_time() -> None:
    r = render_job(job(status="processing", job_id=G, submitted_at=T, started_at=T + 12.7))
    assert r.content == f"**a red fox --ar 3:2** - <@444> (Running, started <t:{int(T + 12)}:R>)"
    assert r.embed is None and r.view is None
    # not started yet as far as the record knows: counted from submission
    r = render_job(job(status="processing", job_id=G, submitted_at=T))
    assert r.content.endswith(f"(Running, started <t:{int(T)}:R>)")


# ------------------------------------------------------------------------------------------------------ grid

async def test_completed_grid() -> None:
    r = render_job(grid_job())
    assert r.content == "**a red fox --ar 3:2** - <@444>"
    assert r.embed is not None
    assert r.embed.description == "a red fox --ar 3:2"
    assert r.embed.colour == discord.Colour.green()
    assert r.embed.image.url == f"https://cdn.legnext.ai/temp/{G}/grid.png"  # linked when nothing was attached
    assert r.embed.footer.text == f"V7 · seed 1234 · job {G} · 80 points"
    assert rows(r) == GRID_ROWS
    ids = custom_ids(r)
    assert ids["U1"] == f"mj:v1:u1:{G}:0"
    assert ids["U4"] == f"mj:v1:u4:{G}:3"
    assert ids["V2"] == f"mj:v1:v2:{G}:1"
    assert ids["🔄"] == f"mj:v1:reroll:{G}:0"
    reroll = next(c for c in buttons(r) if c["custom_id"].startswith("mj:v1:reroll"))
    assert "label" not in reroll or not reroll["label"]  # emoji only
    assert all(not c["disabled"] for c in buttons(r))


async def test_grid_with_an_attachment() -> None:
    r = render_job(grid_job(), attached=[f"{G}.png"])
    assert r.embed is not None and r.embed.image.url == f"attachment://{G}.png"


async def test_grid_offers_only_available_actions() -> None:
    r = render_job(grid_job(output=grid_output({"upscale": [0, 2], "variation": [1], "reroll": False})))
    assert rows(r) == [["U1", "U3"], ["V2"]]
    assert custom_ids(r)["U3"] == f"mj:v1:u3:{G}:2"
    r = render_job(grid_job(output=grid_output({})))
    assert r.view is None
    # no available_actions at all (an older record): everything is offered
    assert rows(render_job(grid_job(output=grid_output(None)))) == GRID_ROWS


async def test_v81_grid_has_no_upscale() -> None:
    r = render_job(grid_job(extra={"model": "8.1"}, output=grid_output(V8_ACTIONS)))
    assert rows(r) == [["🔄"], ["V1", "V2", "V3", "V4"]]
    assert r.embed is not None and r.embed.footer.text is not None and r.embed.footer.text.startswith("V8.1 · ")


async def test_follow_up_grids_say_what_they_are() -> None:
    r = render_job(grid_job(task_type="variation", action="v2", extra={"model": "7", "describes": "Variations"}))
    assert r.content == "**a red fox --ar 3:2** - Variations by <@444>"
    assert rows(r) == GRID_ROWS
    r = render_job(grid_job(task_type="pan", action="pan_left", extra={"model": "7", "describes": "Pan Left"},
                            output={**grid_output(), "image_url": ""}))
    assert r.content == "**a red fox --ar 3:2** - Pan Left by <@444>"
    assert r.embed is not None and r.embed.image.url == grid_output()["image_urls"][0]  # pan has no grid URL
    assert rows(r) == GRID_ROWS


# ------------------------------------------------------------------------------------------------------ upscale

async def test_completed_upscale() -> None:
    r = render_job(upscale_job())
    assert r.content == "**a red fox --ar 3:2** - Image #3 <@444>"
    assert rows(r) == UPSCALED_ROWS
    for label, cid in custom_ids(r).items():
        parsed = parse_id(cid)
        assert parsed is not None, cid
        assert (parsed.job_id, parsed.index) == (G, 2), label  # the grid and the image, not the upscale job
    ids = custom_ids(r)
    assert ids["Upscale (Subtle)"] == f"mj:v1:upscale_subtle:{G}:2"
    assert ids["⬅️"] == f"mj:v1:pan_left:{G}:2"
    assert ids["Custom Zoom"] == f"mj:v1:zoom_custom:{G}:2"
    assert r.embed is not None and r.embed.footer.text == f"V7 · seed 99 · job {U} · 120 points"


async def test_v81_upscale_hides_pan_zoom_region() -> None:
    # even if the grid's actions said otherwise, the model rules them out
    for actions in (FULL_ACTIONS, V8_ACTIONS):
        r = render_job(upscale_job(model="8.1", parent_actions=actions))
        assert rows(r) == [["Vary (Subtle)", "Vary (Strong)"], ["Animate (Low motion)", "Animate (High motion)"]]
    r = render_job(upscale_job(model="8", parent_actions=V8_ACTIONS))
    assert "⬅️" not in custom_ids(r) and "Zoom Out 2x" not in custom_ids(r)


async def test_missing_actions_hide_their_buttons() -> None:
    no_pan = {k: v for k, v in FULL_ACTIONS.items() if k != "pan"}
    r = render_job(upscale_job(parent_actions=no_pan))
    assert rows(r) == [row for row in UPSCALED_ROWS if row[0] != "⬅️"]
    # an action offered for other images only
    r = render_job(upscale_job(parent_actions={**FULL_ACTIONS, "outpaint": [0, 1], "inpaint": [3]}))
    assert rows(r) == [
        ["Upscale (Subtle)", "Upscale (Creative)"], ["Vary (Subtle)", "Vary (Strong)"],
        ["⬅️", "➡️", "⬆️", "⬇️"], ["Animate (Low motion)", "Animate (High motion)"],
    ]


async def test_upscale_without_a_parent_has_no_buttons() -> None:
    assert render_job(upscale_job(parent_job_id=None)).view is None
    assert render_job(upscale_job(image_no=None)).view is None


# ------------------------------------------------------------------------------------------------------ endings

async def test_failed() -> None:
    r = render_job(job(status="failed", job_id=G, error="task failed: **bad** @everyone", frozen_points=80,
                       consumed_points=0))
    assert r.content == "**a red fox --ar 3:2** - <@444> (Failed)"
    assert r.view is None
    assert r.embed is not None
    assert r.embed.title == "This job failed"
    assert r.embed.colour == discord.Colour.red()
    assert r.embed.description == "Reason: task failed: \\*\\*bad\\*\\* @\u200beveryone"
    assert r.embed.footer.text == f"V7 · job {G}"  # refunded: no points shown
    r = render_job(job(status="failed", error=None))
    assert r.embed is not None and r.embed.description == "Reason: no reason given"


async def test_unknown() -> None:
    r = render_job(job(status="unknown", error="no answer from the Legnext API (ReadTimeout)"))
    assert r.content == "**a red fox --ar 3:2** - <@444> (Outcome unknown)"
    assert r.view is None
    assert r.embed is not None
    assert r.embed.title == "This job's outcome is unknown"
    assert r.embed.colour == discord.Colour.orange()
    assert "ReadTimeout" in (r.embed.description or "")


async def test_completed_without_job_id_has_no_buttons() -> None:
    assert render_job(grid_job(job_id=None)).view is None


# ------------------------------------------------------------------------------------------------------ limits

async def test_custom_ids_fit_discord() -> None:
    long_id = "f" * 64  # the longest job id the custom_id format accepts
    for r in (render_job(grid_job(job_id=long_id)), render_job(upscale_job(parent_job_id=long_id, image_no=3))):
        ids = [c["custom_id"] for c in buttons(r)]
        assert ids and all(len(cid) <= 100 for cid in ids)
        assert len(set(ids)) == len(ids)
        assert all(long_id in cid for cid in ids)


async def test_long_prompt_is_cut() -> None:
    prompt = "word " * 1000
    r = render_job(grid_job(prompt=prompt))
    assert len(r.content) <= 2000
    assert r.content.endswith("… ** - <@444>") or r.content.endswith("…** - <@444>")
    assert r.embed is not None and r.embed.description is not None and len(r.embed.description) <= 4096
    # escaping can double the length: still within the limits
    r = render_job(job(prompt="*" * 8192, status="processing", started_at=T))
    assert len(r.content) <= 2000 and r.content.endswith(f"(Running, started <t:{int(T)}:R>)")
    r = render_job(grid_job(prompt="_" * 8192))
    assert r.embed is not None and r.embed.description is not None and len(r.embed.description) <= 4096
    embed_total = len(r.embed.description) + len(r.embed.footer.text or "")
    assert embed_total <= 6000


async def test_markdown_and_mentions_are_escaped() -> None:
    r = render_job(job(prompt="**bold** _x_ `code` @everyone @here <@555> > quote"))
    assert r.content.startswith("**\\*\\*bold\\*\\* \\_x\\_ \\`code\\` @\u200beveryone @\u200bhere <@555> > quote**")
    assert "@everyone" not in r.content and "@here" not in r.content
    r = render_job(grid_job(prompt="**bold** @everyone"))
    assert r.embed is not None and r.embed.description == "\\*\\*bold\\*\\* @\u200beveryone"
