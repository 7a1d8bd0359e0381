"""/shorten's persistent buttons: `1️⃣`..`5️⃣` (imagine that prompt) and `Show Details`. Custom ids:
`mj:v1:shorten_<n>:<shorten job>:<n-1>`, `mj:v1:shorten_details:<shorten job>:0`."""

from __future__ import annotations

import discord

from bot.ui.custom_ids import CustomId
from bot.ui.items import FeatureButton
from bot.ui.prompt_form import number_buttons

COG_NAME = "Shorten"
PROMPTS = 5
PICK_PREFIX = "shorten_"  # shorten_1 .. shorten_5
DETAILS = "shorten_details"


class ShortenButton(FeatureButton, actions=rf"shorten_(?:[1-{PROMPTS}]|details)"):
    cog_name = COG_NAME


def build_view(job_id: str, count: int = PROMPTS) -> discord.ui.View:
    """Row 1: one number per prompt; row 2: `Show Details`."""
    view = discord.ui.View(timeout=None)
    number_buttons(view, ShortenButton, PICK_PREFIX, job_id, min(count, PROMPTS))
    view.add_item(ShortenButton.plain(CustomId(DETAILS, job_id, 0), "Show Details", row=1))
    return view


DYNAMIC_ITEMS = (ShortenButton,)
