"""/balance: the Discord side. Moderators only, checked before any call; the answer is ephemeral and deferred
first (the balance read may take longer than Discord's 3 seconds)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import ModerationConfig
from bot.core.alerts import balance_failure
from bot.core.errors import NotAllowed
from bot.legnext.client import LegnextClient
from bot.legnext.errors import LegnextError
from bot.legnext.models import Balance
from bot.ui.errors import NO_PINGS, Reporter
from bot.ui.members import member_of
from cogs.balance.render import NOT_A_MODERATOR, balance_text

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 20.0
FRESH_S = 3.0  # a reading this recent answers the next /balance too (a moderator pressing it ten times)


class BalanceCog(commands.Cog, name="Balance"):
    def __init__(self, *, api: LegnextClient, reporter: Reporter, moderation: ModerationConfig) -> None:
        self.api = api
        self.reporter = reporter
        self.moderation = moderation
        self._reading: asyncio.Task[Balance] | None = None
        self._read_at = 0.0

    @app_commands.command(name="balance", description="The Legnext balance and what it buys (moderators)")
    @app_commands.guild_only()
    async def balance(self, interaction: discord.Interaction[Any]) -> None:
        if not member_of(interaction, self.moderation.moderator_role_ids).is_moderator:
            raise NotAllowed(NOT_A_MODERATOR)  # answered by the tree's error handler: no call was made
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            bal = await self._read()
        except (LegnextError, TimeoutError) as e:
            log.info("/balance could not read the balance: %r", e)
            text = balance_failure(e)
        else:
            text = balance_text(bal.data, alert_points=self.moderation.balance_alert_points,
                                alert_channel_id=self.moderation.alert_channel_id)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _read(self) -> Balance:
        """One read shared by every /balance asked while it runs, or within FRESH_S of it."""
        loop = asyncio.get_running_loop()
        task = self._reading
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None
                                             or loop.time() - self._read_at > FRESH_S)):
            self._reading = task = asyncio.create_task(self._fetch(), name="balance-read")
        return await asyncio.shield(task)

    async def _fetch(self) -> Balance:
        async with asyncio.timeout(READ_TIMEOUT_S):
            bal = await self.api.balance(retries=1)
        self._read_at = asyncio.get_running_loop().time()
        return bal
