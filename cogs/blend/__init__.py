"""/blend: 2 to 5 images into one grid. Loaded as the extension `cogs.blend`. Its grid results are shown, and their
buttons handled, by the imagine feature (grid tasks are registered there)."""

from __future__ import annotations

from discord.ext import commands

from bot.ui.services import services_of
from cogs.blend.cog import Blend


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    await bot.add_cog(Blend(launcher=s.launcher, settings=s.settings))
