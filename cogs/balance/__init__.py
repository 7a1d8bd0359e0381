"""/balance: the Legnext account's balance and what it buys, for moderators. Loaded as the extension `cogs.balance`.
The alerts about the balance run in the core (`bot.core.alerts.AlertWatch`, started by the bot)."""

from __future__ import annotations

from discord.ext import commands

from bot.ui.services import services_of
from cogs.balance.cog import BalanceCog


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    await bot.add_cog(BalanceCog(api=s.api, reporter=s.reporter, moderation=s.settings.moderation))
