"""/shorten and its buttons: the Discord side of the feature.

The prompt gets /imagine's checks before any call; the shorten job starts through the core's one launcher. A number
opens the shared prompt form (`bot.ui.prompt_form`), whose submission imagines that prompt for whoever pressed;
`Show Details` answers with the analysis, ephemerally.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import NotAvailable
from bot.core.launcher import Launch, Launcher
from bot.core.prompt import check_prompt
from bot.legnext import models as m
from bot.legnext.client import build
from bot.storage.jobs import JobRepo
from bot.storage.members import SettingsRepo
from bot.ui.answers import start_job
from bot.ui.custom_ids import CustomId
from bot.ui.errors import NO_PINGS, Reporter
from bot.ui.members import where_of
from bot.ui.prompt_form import PromptImagine
from cogs.shorten.buttons import COG_NAME, DETAILS, PICK_PREFIX
from cogs.shorten.render import details_text

PROMPT_MAX = 6000  # Discord refuses a string option with max_length over 6000
DESCRIBES = "Shorten"  # the words after the prompt in the job's message


class Shorten(commands.Cog, name=COG_NAME):
    def __init__(self, *, launcher: Launcher, jobs: JobRepo, member_settings: SettingsRepo, reporter: Reporter,
                 moderator_role_ids: list[int]) -> None:
        self.launcher = launcher
        self.jobs = jobs
        self.reporter = reporter
        self.prompts = PromptImagine(launcher=launcher, member_settings=member_settings, reporter=reporter,
                                     moderator_role_ids=moderator_role_ids)

    # ------------------------------------------------------------------------------------------------ /shorten

    @app_commands.command(name="shorten", description="Find the words that matter in a prompt, and shorter prompts")
    @app_commands.describe(prompt="The prompt to shorten, with Midjourney --flags inline")
    @app_commands.guild_only()
    async def shorten(self, interaction: discord.Interaction[Any],
                      prompt: app_commands.Range[str, 1, PROMPT_MAX]) -> None:
        member = self.prompts.member(interaction)
        where = where_of(interaction)
        text = check_prompt(prompt.strip()).render()  # /imagine's checks; `—ar` from a phone is sent as `--ar`
        what = Launch(request=build(m.Shorten, prompt=text), action="shorten", prompt=text,
                      extra={"describes": DESCRIBES})
        await start_job(interaction, self.launcher, what, member, where)

    # ------------------------------------------------------------------------------------------------ buttons

    async def on_component(self, interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
        """A press of one of /shorten's buttons (`buttons.ShortenButton`)."""
        try:
            if cid.action == DETAILS:
                await self._details(interaction, cid)
            elif cid.action.startswith(PICK_PREFIX) and cid.action[len(PICK_PREFIX):].isdigit():
                n = int(cid.action[len(PICK_PREFIX):])
                await self.prompts.open_form(interaction, CustomId(cid.action, cid.job_id, n - 1),
                                             action=cid.action)
            else:
                raise NotAvailable("That button is no longer supported.")
        except Exception as e:
            await self.reporter.report(interaction, e)

    async def _details(self, interaction: discord.Interaction[Any], cid: CustomId) -> None:
        """`Show Details`: the "important tokens" analysis, for whoever pressed (nothing is spent)."""
        source = await self.jobs.by_job_id(cid.job_id)
        if source is None or source.status != "completed" or source.task_type != "shorten":
            raise NotAvailable("I have no finished /shorten behind that button any more.")
        await interaction.response.send_message(details_text(source), ephemeral=True, allowed_mentions=NO_PINGS)
