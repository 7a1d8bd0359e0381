"""/settings: an ephemeral panel of the member's own defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.settings_panel import render_settings

if TYPE_CHECKING:
    from bot.app import MJBot


class Settings(commands.Cog):
    def __init__(self, bot: MJBot) -> None:
        self.bot = bot

    @app_commands.command(name="settings", description="Your defaults for /imagine")
    async def settings(self, interaction: discord.Interaction[MJBot]) -> None:
        content, view = render_settings(await self.bot.settings_repo.get(interaction.user.id))
        await interaction.response.send_message(content, view=view, ephemeral=True,
                                                allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: MJBot) -> None:
    await bot.add_cog(Settings(bot))
