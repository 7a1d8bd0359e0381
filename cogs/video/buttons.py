"""The persistent buttons under a video's clips: `Extend (Low motion)`, `Extend (High motion)` and `Upscale` per clip
(`Extend 2 (Low motion)`, `Upscale 2` ... when there are several), and the confirmation to run a press again after
an unknown outcome. Custom ids: `mj:v1:video_extend_low:<video job>:<clip>`, `video_extend_high`, `video_upscale`,
`mj:v1:video_again:<video job>:<clip>:<xl|xh|up>`."""

from __future__ import annotations

import discord

from bot.ui.custom_ids import CustomId
from bot.ui.items import FeatureButton

COG_NAME = "Video"
AGAIN = "video_again"


class VideoButton(FeatureButton, actions=r"video_(?:extend_low|extend_high|upscale|again)"):
    cog_name = COG_NAME


def button(cid: CustomId, label: str, *, row: int, style: discord.ButtonStyle = discord.ButtonStyle.secondary,
           ) -> VideoButton:
    return VideoButton.plain(cid, label, row=row, style=style)


DYNAMIC_ITEMS = (VideoButton,)
