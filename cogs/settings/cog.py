"""/settings: an ephemeral panel of the member's own defaults, and its selects and toggles."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.storage.members import SettingsRepo
from bot.ui.custom_ids import CustomId
from bot.ui.errors import NO_PINGS, Reporter
from cogs.settings.panel import COG_NAME, apply_choice, render_settings


class MemberSettings(commands.Cog, name=COG_NAME):
    def __init__(self, *, member_settings: SettingsRepo, reporter: Reporter) -> None:
        self.member_settings = member_settings
        self.reporter = reporter

    @app_commands.command(name="settings", description="Your defaults for /imagine")
    async def settings(self, interaction: discord.Interaction[Any]) -> None:
        content, view = render_settings(await self.member_settings.get(interaction.user.id))
        await interaction.response.send_message(content, view=view, ephemeral=True, allowed_mentions=NO_PINGS)

    async def on_component(self, interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
        """A choice on the panel (`panel.SettingsButton`, `panel.SettingsSelect`)."""
        try:
            settings = apply_choice(await self.member_settings.get(interaction.user.id), cid.action, values)
            await self.member_settings.set(interaction.user.id, settings)
            content, view = render_settings(settings)
            await interaction.response.edit_message(content=content, view=view)
        except Exception as e:
            await self.reporter.report(interaction, e)
