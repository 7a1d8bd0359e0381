"""/shorten: five shorter versions of a prompt, the buttons that imagine them and the analysis behind them. Loaded
as the extension `cogs.shorten`."""

from __future__ import annotations

from discord.ext import commands

from bot.ui.services import services_of
from cogs.shorten.buttons import DYNAMIC_ITEMS
from cogs.shorten.cog import Shorten
from cogs.shorten.render import TASK_TYPES, renderer


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    await bot.add_cog(Shorten(launcher=s.launcher, jobs=s.jobs, member_settings=s.member_settings,
                              reporter=s.reporter, moderator_role_ids=s.settings.moderation.moderator_role_ids))
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.register(TASK_TYPES, renderer)


async def teardown(bot: commands.Bot) -> None:
    s = services_of(bot)
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.unregister(TASK_TYPES, renderer)
