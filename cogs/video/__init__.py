"""/video: short videos from a start image, and the buttons that extend and upscale their clips. Loaded as the
extension `cogs.video`. (`Animate` under an upscaled image is /imagine's button; the videos it makes are shown
here.)"""

from __future__ import annotations

from discord.ext import commands

from bot.ui.services import services_of
from cogs.video.buttons import DYNAMIC_ITEMS
from cogs.video.cog import Video
from cogs.video.render import TASK_TYPES, renderer


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    await bot.add_cog(Video(launcher=s.launcher, jobs=s.jobs, reporter=s.reporter,
                            max_image_mb=s.settings.jobs.max_image_mb,
                            moderator_role_ids=s.settings.moderation.moderator_role_ids))
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.register(TASK_TYPES, renderer)


async def teardown(bot: commands.Bot) -> None:
    s = services_of(bot)
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.unregister(TASK_TYPES, renderer)
