"""/blend: two to five uploaded images blended into a grid. The result is a grid like /imagine's, with the grid's
buttons (rendered and handled by the imagine feature, which owns grid results)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.core.launcher import Launch, Launcher
from bot.core.sources import Attachment, check_image
from bot.legnext import models as m
from bot.legnext.client import build
from bot.ui.answers import start_job
from bot.ui.members import member_of, where_of

DIMENSIONS = [
    app_commands.Choice(name="Portrait (2:3)", value="2:3"),
    app_commands.Choice(name="Square (1:1)", value="1:1"),
    app_commands.Choice(name="Landscape (3:2)", value="3:2"),
]


def attachment_of(att: discord.Attachment) -> Attachment:
    return Attachment(filename=att.filename, content_type=att.content_type, size=att.size, url=att.url)


def blend_launch(urls: list[str], ratio: str) -> Launch:
    """A blend of the checked image URLs (in the order given). Midjourney shows a blend's images as its prompt."""
    return Launch(request=build(m.Blend, imgUrls=urls, aspect_ratio=ratio), action="blend", prompt=" ".join(urls),
                  extra={"model": "7", "describes": f"Blend of {len(urls)} images"})


class Blend(commands.Cog, name="Blend"):
    def __init__(self, *, launcher: Launcher, settings: Settings) -> None:
        self.launcher = launcher
        self.settings = settings

    @app_commands.command(name="blend", description="Blend 2 to 5 images into a new one")
    @app_commands.describe(image1="First image", image2="Second image", image3="Third image (optional)",
                           image4="Fourth image (optional)", image5="Fifth image (optional)",
                           dimensions="Shape of the result (default Square)")
    @app_commands.choices(dimensions=DIMENSIONS)
    @app_commands.guild_only()
    async def blend(self, interaction: discord.Interaction[Any], image1: discord.Attachment,
                    image2: discord.Attachment, image3: discord.Attachment | None = None,
                    image4: discord.Attachment | None = None, image5: discord.Attachment | None = None,
                    dimensions: app_commands.Choice[str] | None = None) -> None:
        max_bytes = int(self.settings.jobs.max_image_mb * 1024 * 1024)
        given = [("image1", image1), ("image2", image2), ("image3", image3), ("image4", image4), ("image5", image5)]
        # every image is checked before anything is spent; the URLs go as Discord gave them (signed, intact)
        urls = [check_image(attachment_of(att), max_bytes=max_bytes, option=name) for name, att in given if att]
        what = blend_launch(urls, dimensions.value if dimensions else "1:1")
        member = member_of(interaction, self.settings.moderation.moderator_role_ids)
        where = where_of(interaction)
        await start_job(interaction, self.launcher, what, member, where)
