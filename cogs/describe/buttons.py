"""/describe's persistent buttons: `1️⃣`..`4️⃣` (imagine that prompt), `🔄` (describe the image again) and
`🎉 Imagine all`. Custom ids: `mj:v1:describe_<n>:<describe job>:<n-1>`, `describe_again`, `describe_all`."""

from __future__ import annotations

import discord

from bot.ui.custom_ids import CustomId
from bot.ui.items import FeatureButton
from bot.ui.prompt_form import number_buttons

COG_NAME = "Describe"
PROMPTS = 4
PICK_PREFIX = "describe_"  # describe_1 .. describe_4
AGAIN = "describe_again"
ALL = "describe_all"


class DescribeButton(FeatureButton, actions=rf"describe_(?:[1-{PROMPTS}]|again|all)"):
    cog_name = COG_NAME


def build_view(job_id: str, count: int = PROMPTS) -> discord.ui.View:
    """Row 1: one number per prompt; row 2: `🔄` and `🎉 Imagine all`."""
    view = discord.ui.View(timeout=None)
    number_buttons(view, DescribeButton, PICK_PREFIX, job_id, min(count, PROMPTS))
    again = CustomId(AGAIN, job_id, 0)
    view.add_item(DescribeButton(again, discord.ui.Button(custom_id=str(again), emoji="🔄", row=1)))
    every = CustomId(ALL, job_id, 0)
    view.add_item(DescribeButton(every, discord.ui.Button(custom_id=str(every), emoji="🎉", label="Imagine all",
                                                          row=1)))
    return view


DYNAMIC_ITEMS = (DescribeButton,)
