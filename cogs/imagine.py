"""/imagine: check the prompt (free), defer, record and submit, post the job message, hand it to the tracker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import member_of, post_and_track
from bot.jobs import Where

if TYPE_CHECKING:
    from bot.app import MJBot


class Imagine(commands.Cog):
    def __init__(self, bot: MJBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description="Create images with Midjourney")
    @app_commands.describe(prompt="What to imagine, with Midjourney --flags inline")
    @app_commands.guild_only()
    async def imagine(self, interaction: discord.Interaction[MJBot],
                      prompt: app_commands.Range[str, 1, 8192]) -> None:
        member = member_of(interaction)
        await self.bot.service.prepare_imagine(member, prompt)  # refuses bad prompts before anything is spent
        await interaction.response.defer(ephemeral=True, thinking=True)
        job = await self.bot.service.imagine(member, Where(interaction.guild_id, interaction.channel_id), prompt)
        await post_and_track(interaction, job, None)


async def setup(bot: MJBot) -> None:
    await bot.add_cog(Imagine(bot))
