"""/imagine's persistent components: the buttons under a grid or an upscaled image (and the confirmation to run a
press again after an unknown outcome), and the region picker of Vary (Region)."""

from __future__ import annotations

import discord

from bot.ui.custom_ids import CustomId, template_for
from bot.ui.items import FeatureButton, FeatureSelect
from cogs.imagine.actions import Action

COG_NAME = "Imagine"
AGAIN = "again"  # the confirmation after an unknown outcome: mj:v1:again:<job>:<index>:<action>
SELECT_REGION = "sel_region"


class ImagineButton(FeatureButton, template=template_for(r"(?!sel_|set_)[a-z][a-z0-9_]{0,23}")):
    """Every button action except the settings panel's (`set_*`); one no longer known is answered as such."""

    cog_name = COG_NAME

    @classmethod
    def make(cls, action: Action, cid: CustomId, *, style: discord.ButtonStyle = discord.ButtonStyle.secondary,
             disabled: bool = False) -> ImagineButton:
        return cls(cid, discord.ui.Button(
            custom_id=str(cid), label=action.label, emoji=action.emoji, style=style, row=action.row,
            disabled=disabled,
        ))


class RegionSelect(FeatureSelect, template=template_for(r"sel_(?!set_)[a-z0-9_]{1,20}")):
    """The region picker (and any other select that is not the settings panel's: it is answered as unknown)."""

    cog_name = COG_NAME


DYNAMIC_ITEMS = (ImagineButton, RegionSelect)
