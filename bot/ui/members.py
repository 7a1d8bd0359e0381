"""Who is asking, and where: the member behind an interaction and the channel a job started there is shown in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import discord

from bot.core.launcher import Member, Where

THREAD_TYPES = (discord.ChannelType.public_thread, discord.ChannelType.private_thread,
                discord.ChannelType.news_thread)


def member_of(interaction: discord.Interaction[Any], moderator_role_ids: Iterable[int]) -> Member:
    """The member and whether they moderate: Manage Server, or one of the configured moderator roles."""
    user = interaction.user
    is_mod = False
    role_ids: set[int] = set()
    if isinstance(user, discord.Member):
        role_ids = {r.id for r in user.roles}
        is_mod = interaction.permissions.manage_guild or bool(role_ids & set(moderator_role_ids))
    return Member(id=user.id, is_moderator=is_mod, roles=frozenset(role_ids))


def where_of(interaction: discord.Interaction[Any], reply_to: int | None = None) -> Where:
    """Where a job started by this interaction is shown, and what the bot may do there."""
    channel = interaction.channel
    in_thread = isinstance(channel, discord.Thread) or getattr(channel, "type", None) in THREAD_TYPES
    parent = getattr(channel, "parent_id", None) if in_thread else None
    return Where(
        interaction.guild_id, interaction.channel_id, reply_to,
        bot_permissions=interaction.app_permissions.value, in_thread=in_thread,
        parent_channel_id=parent if isinstance(parent, int) else None,
        answer_to=(interaction.application_id, interaction.token),
    )
