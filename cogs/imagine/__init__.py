"""/imagine: the command, its buttons and forms, and how its jobs look. Loaded as the extension `cogs.imagine`."""

from __future__ import annotations

from discord.ext import commands

from bot.ui.services import services_of
from cogs.imagine.buttons import DYNAMIC_ITEMS
from cogs.imagine.cog import Imagine
from cogs.imagine.render import TASK_TYPES, renderer


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    await bot.add_cog(Imagine(launcher=s.launcher, jobs=s.jobs, member_settings=s.member_settings,
                              reporter=s.reporter, moderator_role_ids=s.settings.moderation.moderator_role_ids))
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.register(TASK_TYPES, renderer)


async def teardown(bot: commands.Bot) -> None:
    s = services_of(bot)
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.unregister(TASK_TYPES, renderer)
