"""Who is asking, and where: the member behind an interaction and the channel a job started there is shown in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import discord

from bot.core.launcher import Member, Where

THREAD_TYPES = (discord.ChannelType.public_thread, discord.ChannelType.private_thread,
                discord.ChannelType.news_thread)


def member_with(user: discord.Member, manage_guild: bool, moderator_role_ids: Iterable[int]) -> Member:
    """A server member, their roles and whether they moderate: Manage Server, or one of the configured moderator
    roles."""
    roles = frozenset(r.id for r in user.roles)
    return Member(id=user.id, is_moderator=manage_guild or bool(roles & set(moderator_role_ids)), roles=roles)


def member_of(interaction: discord.Interaction[Any], moderator_role_ids: Iterable[int]) -> Member:
    """The member behind an interaction (outside a server: no roles, not a moderator)."""
    user = interaction.user
    if isinstance(user, discord.Member):
        return member_with(user, interaction.permissions.manage_guild, moderator_role_ids)
    return Member(id=user.id)


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
