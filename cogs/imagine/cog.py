"""/imagine and every button under its results: the Discord side of the feature.

Handlers parse and check the interaction, `defer()` before slow work, start jobs through the core's one launcher and
answer the member. The rules (prompt defaults, the button table, what a press starts) are in `actions`; how a job
looks is in `render`; nothing here spends anything before the free checks passed.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import BadInput, NotAvailable, OutcomeUnknownAgain
from bot.core.launcher import Confirm, Launch, Launcher, Member
from bot.core.requests import imagine_launch
from bot.storage.jobs import JobRecord, JobRepo
from bot.storage.members import SettingsRepo
from bot.ui.answers import answer_started, start_job
from bot.ui.custom_ids import CustomId
from bot.ui.errors import NO_PINGS, Reporter
from bot.ui.members import member_of, where_of
from cogs.imagine import actions as A
from cogs.imagine.buttons import AGAIN, COG_NAME, SELECT_REGION, ImagineButton, RegionSelect
from cogs.imagine.editor import RegionEditor
from cogs.imagine.modals import RegionModal, RemixModal, ZoomModal
from cogs.imagine.regions import CELL_NAMES

log = logging.getLogger(__name__)

PROMPT_MAX = 6000  # Discord refuses a string option with max_length over 6000 (and its client sends no more)
REGION_VALUES = frozenset(str(i + 1) for i in range(len(CELL_NAMES)))


class Imagine(commands.Cog, name=COG_NAME):
    def __init__(self, *, launcher: Launcher, jobs: JobRepo, member_settings: SettingsRepo, reporter: Reporter,
                 moderator_role_ids: list[int], region_editor: RegionEditor | None = None) -> None:
        self.region_editor = region_editor  # Vary (Region)'s web editor; None: the 3x3 cell picker
        self.launcher = launcher
        self.jobs = jobs
        self.member_settings = member_settings
        self.reporter = reporter
        self.moderator_role_ids = moderator_role_ids

    # ------------------------------------------------------------------------------------------------ /imagine

    @app_commands.command(name="imagine", description="Create images with Midjourney")
    @app_commands.describe(prompt="What to imagine, with Midjourney --flags inline")
    @app_commands.guild_only()
    async def imagine(self, interaction: discord.Interaction[Any],
                      prompt: app_commands.Range[str, 1, PROMPT_MAX]) -> None:
        member = member_of(interaction, self.moderator_role_ids)
        where = where_of(interaction)
        # a channel the bot can't post in, bad prompts and a full quota are refused before anything is spent
        self.launcher.check_channel(where)
        what = imagine_launch(prompt, await self.member_settings.get(member.id))
        await start_job(interaction, self.launcher, what, member, where)

    # ------------------------------------------------------------------------------------------------ components

    async def on_component(self, interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
        """A press of one of this feature's buttons or selects (`buttons.ImagineButton`, `buttons.RegionSelect`)."""
        try:
            if cid.action == SELECT_REGION:
                await self._region_picked(interaction, cid, values)
            elif cid.action.startswith("sel_"):
                raise NotAvailable("That menu is no longer supported.")
            elif cid.action == AGAIN:
                await self._press_again(interaction, cid)
            else:
                await self._press(interaction, cid)
        except Exception as e:
            await self.on_form_error(interaction, e)

    async def on_form_error(self, interaction: discord.Interaction[Any], error: BaseException) -> None:
        """Every error of a press or a form: one sentence, with the confirmation button where it applies."""
        confirm = isinstance(error, OutcomeUnknownAgain) and error.confirmable
        await self.reporter.report(interaction, error, self._confirm_view(error) if confirm else None)

    async def _usable_source(self, action: A.Action, cid: CustomId, member: Member,
                             interaction: discord.Interaction[Any]) -> JobRecord:
        """The finished job a press acts on, checked: the member may use it, the action is offered on that image,
        and the member has room for another job."""
        source = await self.launcher.follow_up_source(cid.job_id, member, guild_id=interaction.guild_id)
        A.check_offered(action, source, cid.index)
        reply_to = interaction.message.id if interaction.message is not None else None
        await self.launcher.check_free(member, where_of(interaction, reply_to))
        return source

    @staticmethod
    def _confirm_view(e: BaseException) -> discord.ui.View:
        assert isinstance(e, OutcomeUnknownAgain)
        view = discord.ui.View(timeout=None)
        view.add_item(ImagineButton.plain(CustomId(AGAIN, e.job_id, e.index, e.action),
                                          "Run it again (may be charged twice)", style=discord.ButtonStyle.danger))
        return view

    async def _press(self, interaction: discord.Interaction[Any], cid: CustomId) -> None:
        member = member_of(interaction, self.moderator_role_ids)
        reply_to = interaction.message.id if interaction.message is not None else None
        self.launcher.check_channel(where_of(interaction, reply_to))  # before any form: nothing could be shown here
        action = A.action_for(cid.action)
        existing = await self.launcher.existing(A.plain_key(cid.action, cid.job_id, cid.index))
        if existing is not None:
            if existing.message_id is None and not existing.finished:  # still posting its message: wait for its link
                await interaction.response.defer(ephemeral=True, thinking=True)
                existing = await self.launcher.wait_for_message(existing)
            index = A.index_of(action, cid.index)
            confirm = Confirm(cid.action, cid.job_id, index) if action.modal is None else None
            raise self.launcher.refuse_existing(existing, confirm)
        source = await self._usable_source(action, cid, member, interaction)
        if action.modal == "zoom":
            await interaction.response.send_modal(
                ZoomModal(cid, source.prompt, reply_to, self.start_follow_up, self.on_form_error))
            return
        if action.modal == "region" and self.region_editor is not None and await self.region_editor.offer(
                interaction, cid, member, where_of(interaction, reply_to)):
            return
        if action.modal == "region":
            options = [discord.SelectOption(label=name, value=str(i + 1)) for i, name in enumerate(CELL_NAMES)]
            select = RegionSelect.make(
                CustomId(SELECT_REGION, cid.job_id, cid.index), options, placeholder="Regions to vary",
                max_values=len(options),
            )
            view = discord.ui.View(timeout=None)
            view.add_item(select)
            await interaction.response.send_message(
                "**Vary (Region)**: pick the parts of the image to redraw (a 3×3 grid), then describe what goes "
                "there.", view=view, ephemeral=True, allowed_mentions=NO_PINGS,
            )
            return
        settings = await self.member_settings.get(member.id)
        if action.remixable and settings.get("remix"):
            await interaction.response.send_modal(
                RemixModal(cid, source.prompt, reply_to, self.start_follow_up, self.on_form_error))
            return
        await self.start_follow_up(interaction, cid, reply_to)

    async def _region_picked(self, interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
        # only the options offered: anything else would fail later (in the modal's custom_id or the mask)
        if not values or not set(values) <= REGION_VALUES:
            raise BadInput("Pick at least one region of the image to vary.")
        cells = "".join(sorted(set(values)))
        member = member_of(interaction, self.moderator_role_ids)
        source = await self._usable_source(A.action_for("vary_region"), cid, member, interaction)
        shown = await self.jobs.upscale_message(cid.job_id, cid.index)
        await interaction.response.send_modal(RegionModal(
            CustomId("vary_region", cid.job_id, cid.index, cells), source.prompt, shown, self.start_follow_up,
            self.on_form_error))

    async def _press_again(self, interaction: discord.Interaction[Any], cid: CustomId) -> None:
        """The member confirmed running a press again although the last one's outcome is unknown."""
        action = cid.extra or ""
        if action not in A.ACTIONS or A.ACTIONS[action].modal is not None:
            raise NotAvailable("That button is no longer supported.")
        # the result replies to the message whose button was pressed: the upscaled image's, or the grid's
        reply_to = await self.jobs.upscale_message(cid.job_id, cid.index) if A.is_upscaled(action) else None
        if reply_to is None:
            grid = await self.jobs.by_job_id(cid.job_id)
            reply_to = grid.message_id if grid is not None else None
        await self.start_follow_up(interaction, CustomId(action, cid.job_id, cid.index), reply_to,
                                   again_after_unknown=True)

    async def start_follow_up(self, interaction: discord.Interaction[Any], cid: CustomId, reply_to: int | None,
                              **values: Any) -> None:
        """Defer, then start what the press (and its form's `values`) asks for through the launcher."""
        member = member_of(interaction, self.moderator_role_ids)
        where = where_of(interaction, reply_to)
        self.launcher.check_channel(where)
        await interaction.response.defer(ephemeral=True, thinking=True)
        source = await self.launcher.follow_up_source(cid.job_id, member, guild_id=interaction.guild_id)
        what: Launch = A.press_launch(cid.action, source, cid.index, await self.member_settings.get(member.id),
                                      **values)
        # the largest file Discord takes here, as it told this press (Animate's clips are attached within it)
        what.extra["upload_limit"] = interaction.filesize_limit
        job = await self.launcher.launch(what, member, where)
        await answer_started(interaction, self.launcher, job)
