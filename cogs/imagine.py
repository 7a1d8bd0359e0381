"""/imagine: check the prompt (free), defer, record and submit, post the job message, hand it to the tracker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import member_of, post_and_track, where_of

if TYPE_CHECKING:
    from bot.app import MJBot


PROMPT_MAX = 6000  # Discord refuses a string option with max_length over 6000 (and its client sends no more)


class Imagine(commands.Cog):
    def __init__(self, bot: MJBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description="Create images with Midjourney")
    @app_commands.describe(prompt="What to imagine, with Midjourney --flags inline")
    @app_commands.guild_only()
    async def imagine(self, interaction: discord.Interaction[MJBot],
                      prompt: app_commands.Range[str, 1, PROMPT_MAX]) -> None:
        member = member_of(interaction)
        where = where_of(interaction)
        # refuses bad prompts, a full quota and a channel the bot can't post in, before anything is spent
        await self.bot.service.prepare_imagine(member, prompt, where)
        await interaction.response.defer(ephemeral=True, thinking=True)
        job = await self.bot.service.imagine(member, where, prompt)
        await post_and_track(interaction, job, None)


async def setup(bot: MJBot) -> None:
    await bot.add_cog(Imagine(bot))
