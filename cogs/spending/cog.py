"""/usage, /info, /limits and the queue's Cancel button: the Discord side of budgets, limits and the fair queue.

The rules (what a job reserves, who may start one where, the queue's order) are the core's (`bot.core.limits`,
`bot.core.launcher`); this cog reads and changes them for members and moderators, always ephemerally.
"""

from __future__ import annotations

import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import NotAllowed, NotAvailable
from bot.core.launcher import Launcher
from bot.core.limits import CHANGEABLE
from bot.core.limits import day_start as day_of
from bot.core.usage import member_usage, server_usage
from bot.storage.jobs import JobRepo
from bot.ui.custom_ids import CustomId
from bot.ui.errors import NO_PINGS, Reporter
from bot.ui.members import member_of
from cogs.spending.buttons import CANCEL, COG_NAME
from cogs.spending.render import info_text, limits_text, usage_text

POINTS_MAX = 100_000_000


class Spending(commands.Cog, name=COG_NAME):
    def __init__(self, *, launcher: Launcher, jobs: JobRepo, reporter: Reporter,
                 moderator_role_ids: list[int]) -> None:
        self.launcher = launcher
        self.jobs = jobs
        self.reporter = reporter
        self.moderator_role_ids = moderator_role_ids

    @staticmethod
    async def _answer(interaction: discord.Interaction[Any], text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)

    # ------------------------------------------------------------------------------------------------ /usage

    @app_commands.command(name="usage", description="Points spent: yours, or (moderators) a member's and the server's")
    @app_commands.describe(member="Moderators: whose usage to show")
    @app_commands.guild_only()
    async def usage(self, interaction: discord.Interaction[Any], member: discord.User | None = None) -> None:
        # a User, not a Member: a member who left the server still has their usage
        me = member_of(interaction, self.moderator_role_ids)
        target = member.id if member is not None else me.id
        if target != me.id and not me.is_moderator:
            raise NotAllowed("Only moderators can see another member's usage. `/usage` alone shows yours.")
        now = time.time()
        mine = await member_usage(self.jobs, interaction.guild_id, target, now)
        server = await server_usage(self.jobs, interaction.guild_id, now) if me.is_moderator else None
        who = "Your" if target == me.id else f"<@{target}>'s"
        await self._answer(interaction, usage_text(who, mine, server, now))

    # ------------------------------------------------------------------------------------------------ /info

    @app_commands.command(name="info", description="Your running and queued jobs, and today's spend against limits")
    @app_commands.guild_only()
    async def info(self, interaction: discord.Interaction[Any]) -> None:
        me = member_of(interaction, self.moderator_role_ids)
        now = time.time()
        mine = await member_usage(self.jobs, interaction.guild_id, me.id, now)
        server_today = await self.jobs.spent(since=day_of(now), guild_id=interaction.guild_id)
        limits = await self.launcher.limits_for(interaction.guild_id)
        await self._answer(interaction, info_text(mine, server_today, limits, now))

    # ------------------------------------------------------------------------------------------------ /limits

    @app_commands.command(name="limits", description="Moderators: show or change this server's limits")
    @app_commands.describe(
        running_per_member="A member's jobs running at the API at once (more wait in the queue)",
        queued_per_member="A member's jobs waiting in the queue (more are refused)",
        member_daily_points="Points one member may spend per UTC day (0 = no limit)",
        server_daily_points="Points this server may spend per UTC day (0 = no limit)",
        paused="Refuse new jobs (running and queued ones go on)",
    )
    @app_commands.guild_only()
    async def limits(
        self, interaction: discord.Interaction[Any],
        running_per_member: app_commands.Range[int, 1, 50] | None = None,
        queued_per_member: app_commands.Range[int, 0, 1000] | None = None,
        member_daily_points: app_commands.Range[int, 0, POINTS_MAX] | None = None,
        server_daily_points: app_commands.Range[int, 0, POINTS_MAX] | None = None,
        paused: bool | None = None,
    ) -> None:
        me = member_of(interaction, self.moderator_role_ids)
        if not me.is_moderator:
            raise NotAllowed("Only moderators (Manage Server, or a moderator role) can see or change the limits. "
                             "`/info` shows where you stand.")
        given = dict(running_per_member=running_per_member, queued_per_member=queued_per_member,
                     member_daily_points=member_daily_points, server_daily_points=server_daily_points,
                     paused=paused)
        changes = {k: v for k, v in given.items() if v is not None and k in CHANGEABLE}
        guild_id = interaction.guild_id
        assert guild_id is not None  # guild_only
        repo = self.launcher.limits_repo
        if changes and repo is not None:
            await repo.update(guild_id, changes, by=me.id)
            self.launcher.wake()  # a higher limit lets queued jobs go now
        limits = await self.launcher.limits_for(guild_id)
        await self._answer(interaction, limits_text(limits, sorted(changes) or None))

    # ------------------------------------------------------------------------------------------------ Cancel

    async def on_component(self, interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
        try:
            number = cid.job_id[1:]
            # a forged id: not ours, or a number SQLite can't hold
            if cid.action != CANCEL or not cid.job_id.startswith("q") or not number.isdigit() or len(number) > 18:
                raise NotAvailable("That button is no longer supported.")
            me = member_of(interaction, self.moderator_role_ids)
            job = await self.jobs.get(int(number))
            if job is None or job.guild_id != interaction.guild_id:
                raise NotAvailable("I have no job behind that button any more.")
            await self.launcher.cancel(job.id, me)
            await self._answer(interaction, "Cancelled: it was never sent, so nothing was charged.")
        except Exception as e:
            await self.reporter.report(interaction, e)
