"""/shorten's persistent buttons: `1️⃣`..`5️⃣` (imagine that prompt) and `Show Details`. Custom ids:
`mj:v1:shorten_<n>:<shorten job>:<n-1>`, `mj:v1:shorten_details:<shorten job>:0`."""

from __future__ import annotations

import discord

from bot.ui.custom_ids import CustomId
from bot.ui.items import FeatureButton
from bot.ui.prompt_form import NUMBERS

COG_NAME = "Shorten"
PROMPTS = 5
PICK_PREFIX = "shorten_"  # shorten_1 .. shorten_5
DETAILS = "shorten_details"


def pick_action(n: int) -> str:
    """The action of prompt button `n` (1-based)."""
    return f"{PICK_PREFIX}{n}"


class ShortenButton(FeatureButton, actions=rf"shorten_(?:[1-{PROMPTS}]|details)"):
    cog_name = COG_NAME


def build_view(job_id: str, count: int = PROMPTS) -> discord.ui.View:
    """Row 1: one number per prompt; row 2: `Show Details`."""
    view = discord.ui.View(timeout=None)
    for i in range(min(count, PROMPTS)):
        cid = CustomId(pick_action(i + 1), job_id, i)
        view.add_item(ShortenButton(cid, discord.ui.Button(custom_id=str(cid), emoji=NUMBERS[i], row=0)))
    view.add_item(ShortenButton.plain(CustomId(DETAILS, job_id, 0), "Show Details", row=1))
    return view


DYNAMIC_ITEMS = (ShortenButton,)
