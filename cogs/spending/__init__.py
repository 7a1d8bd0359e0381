"""Budgets, limits and the fair queue, for members and moderators: /usage, /info, /limits and the Cancel button
under queued jobs. Loaded as the extension `cogs.spending`."""

from __future__ import annotations

from discord.ext import commands

from bot.ui.services import services_of
from cogs.spending.buttons import DYNAMIC_ITEMS
from cogs.spending.cog import Spending


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    await bot.add_cog(Spending(launcher=s.launcher, jobs=s.jobs, reporter=s.reporter,
                               moderator_role_ids=s.settings.moderation.moderator_role_ids))
    bot.add_dynamic_items(*DYNAMIC_ITEMS)


async def teardown(bot: commands.Bot) -> None:
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
