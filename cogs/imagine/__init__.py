"""/imagine: the command, its buttons and forms, how its jobs look, and Vary (Region)'s web editor (served by the
bot's web server when `web.public_url` is set). Loaded as the extension `cogs.imagine`."""

from __future__ import annotations

from typing import Any

import discord
import httpx
from discord.ext import commands

from bot.storage.regions import RegionSessionRepo
from bot.ui.services import Services, services_of
from bot.web.server import WebServer
from cogs.imagine.buttons import DYNAMIC_ITEMS
from cogs.imagine.cog import Imagine
from cogs.imagine.editor import ROUTE, RegionEditor
from cogs.imagine.render import TASK_TYPES, renderer
from cogs.imagine.web import RegionPages


async def setup(bot: commands.Bot) -> None:
    s = services_of(bot)
    editor = await region_editor(bot, s)
    await bot.add_cog(Imagine(launcher=s.launcher, jobs=s.jobs, member_settings=s.member_settings,
                              reporter=s.reporter, moderator_role_ids=s.settings.moderation.moderator_role_ids,
                              region_editor=editor))
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.register(TASK_TYPES, renderer)


async def teardown(bot: commands.Bot) -> None:
    s = services_of(bot)
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
    s.presenter.screens.unregister(TASK_TYPES, renderer)
    web = getattr(bot, "web", None)
    if isinstance(web, WebServer):
        web.unmount(ROUTE)


async def region_editor(bot: commands.Bot, s: Services) -> RegionEditor | None:
    """Vary (Region)'s web editor, mounted on the bot's web server, when members can reach it (`web.public_url`,
    with `web.listen`); without it, Vary (Region) offers the 3x3 cell picker."""
    web = getattr(bot, "web", None)
    http = getattr(bot, "http_client", None)
    if not s.settings.web.public_url or not isinstance(web, WebServer) or not web.serving:
        return None
    if not isinstance(http, httpx.AsyncClient):
        return None

    async def attachment_url(channel_id: int, message_id: int) -> str | None:
        channel: Any = bot.get_channel(channel_id) or await bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return None
        message = await channel.fetch_message(message_id)
        for attachment in message.attachments:
            if (attachment.content_type or "").startswith("image/"):
                return attachment.url
        return None

    async def fetch_member(guild_id: int, user_id: int) -> discord.Member | None:
        """The member as Discord knows them now: a REST fetch (the bot has no members intent, so no cache of them)."""
        try:
            guild = bot.get_guild(guild_id) or await bot.fetch_guild(guild_id)
            return await guild.fetch_member(user_id)
        except discord.NotFound:  # 10007 Unknown Member (left or was removed); 10004 Unknown Guild
            return None

    editor = RegionEditor(settings=s.settings, meta=s.meta, sessions=RegionSessionRepo(s.meta.db),
                          launcher=s.launcher, jobs=s.jobs, member_settings=s.member_settings, http=http,
                          attachment_url=attachment_url, fetch_member=fetch_member)
    await editor.start()
    web.mount(ROUTE, RegionPages(editor).handle)
    return editor
