"""/describe: four prompts for an image, and the buttons that imagine them. Loaded as the extension
`cogs.describe`."""

from __future__ import annotations

from discord.ext import commands

from bot.ui.services import services_of
from cogs.describe.buttons import DYNAMIC_ITEMS
from cogs.describe.cog import Describe
from cogs.describe.render import TASK_TYPES, renderer


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    await bot.add_cog(Describe(launcher=s.launcher, member_settings=s.member_settings, reporter=s.reporter,
                               max_image_mb=s.settings.jobs.max_image_mb,
                               moderator_role_ids=s.settings.moderation.moderator_role_ids))
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.register(TASK_TYPES, renderer)


async def teardown(bot: commands.Bot) -> None:
    s = services_of(bot)
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.unregister(TASK_TYPES, renderer)
