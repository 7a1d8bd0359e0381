"""/settings: each member's own /imagine defaults. Loaded as the extension `cogs.settings`."""

from __future__ import annotations

from discord.ext import commands

from bot.ui.services import services_of
from cogs.settings.cog import MemberSettings
from cogs.settings.panel import DYNAMIC_ITEMS


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    await bot.add_cog(MemberSettings(member_settings=s.member_settings, reporter=s.reporter))
    bot.add_dynamic_items(*DYNAMIC_ITEMS)


async def teardown(bot: commands.Bot) -> None:
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
