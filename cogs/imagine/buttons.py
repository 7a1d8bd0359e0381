"""/imagine's persistent components: the buttons under a grid or an upscaled image (and the confirmation to run a
press again after an unknown outcome), and the region picker of Vary (Region)."""

from __future__ import annotations

import discord

from bot.ui.custom_ids import CustomId
from bot.ui.items import FeatureButton, FeatureSelect
from cogs.imagine.actions import ACTIONS, Action

COG_NAME = "Imagine"
AGAIN = "again"  # the confirmation after an unknown outcome: mj:v1:again:<job>:<index>:<action>
SELECT_REGION = "sel_region"
BUTTON_ACTIONS = "|".join(sorted([*ACTIONS, AGAIN], key=len, reverse=True))


class ImagineButton(FeatureButton, actions=BUTTON_ACTIONS):
    """The buttons under a grid or an upscaled image, and the confirmation to run a press again."""

    cog_name = COG_NAME

    @classmethod
    def make(cls, action: Action, cid: CustomId, *, style: discord.ButtonStyle = discord.ButtonStyle.secondary,
             disabled: bool = False) -> ImagineButton:
        return cls(cid, discord.ui.Button(
            custom_id=str(cid), label=action.label, emoji=action.emoji, style=style, row=action.row,
            disabled=disabled,
        ))


class RegionSelect(FeatureSelect, actions=SELECT_REGION):
    """Vary (Region)'s picker of the parts of the image to redraw."""

    cog_name = COG_NAME


DYNAMIC_ITEMS = (ImagineButton, RegionSelect)
