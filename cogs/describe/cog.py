"""/describe and its buttons: the Discord side of the feature.

The image (an upload or a link) is checked before any call (`bot.core.sources`), and the bot's permissions in the
channel before anything is spent; the describe job starts through the core's one launcher. A number opens the
shared prompt form (`bot.ui.prompt_form`), whose submission imagines that prompt for whoever pressed.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import BadInput, NotAvailable
from bot.core.launcher import Launch, Launcher
from bot.core.sources import MAX_URL, Attachment, check_image, check_link
from bot.legnext import models as m
from bot.legnext.client import build
from bot.storage.members import SettingsRepo
from bot.ui.answers import start_job
from bot.ui.custom_ids import CustomId
from bot.ui.errors import Reporter
from bot.ui.members import where_of
from bot.ui.prompt_form import PromptImagine
from cogs.describe.buttons import AGAIN, ALL, COG_NAME, PICK_PREFIX
from cogs.describe.render import image_url

DESCRIBES = "Describe"  # the words after the image's name in the job's message


class Describe(commands.Cog, name=COG_NAME):
    def __init__(self, *, launcher: Launcher, member_settings: SettingsRepo, reporter: Reporter,
                 max_image_mb: float, moderator_role_ids: list[int]) -> None:
        self.launcher = launcher
        self.reporter = reporter
        self.max_bytes = int(max_image_mb * 1024 * 1024)
        self.prompts = PromptImagine(launcher=launcher, member_settings=member_settings, reporter=reporter,
                                     moderator_role_ids=moderator_role_ids)

    # ------------------------------------------------------------------------------------------------ /describe

    @app_commands.command(name="describe", description="Write four prompts for an image")
    @app_commands.describe(image="The image to describe (PNG, JPEG, WebP or GIF)",
                           link="Or a link to the image (http or https)")
    @app_commands.guild_only()
    async def describe(self, interaction: discord.Interaction[Any], image: discord.Attachment | None = None,
                       link: app_commands.Range[str, 1, MAX_URL] | None = None) -> None:
        if image is not None and link is not None:
            raise BadInput("Give either an `image` or a `link` to describe, not both.")
        if image is None and link is None:
            raise BadInput("Give an `image` (upload) or a `link` to describe.")
        if image is not None:
            # the full signed URL exactly as Discord gave it: its query string must stay intact
            url = check_image(Attachment(image.filename, image.content_type, image.size, image.url),
                              max_bytes=self.max_bytes)
            shown = image.filename
        else:
            assert link is not None
            url = shown = check_link(link)
        member = self.prompts.member(interaction)
        where = where_of(interaction)
        what = Launch(request=build(m.Describe, imgUrl=url), action="describe", prompt=shown,
                      extra={"describes": DESCRIBES})
        await start_job(interaction, self.launcher, what, member, where)

    # ------------------------------------------------------------------------------------------------ buttons

    async def on_component(self, interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
        """A press of one of /describe's buttons (`buttons.DescribeButton`)."""
        reply_to = interaction.message.id if interaction.message is not None else None
        try:
            if cid.action == AGAIN:
                await self._again(interaction, cid, reply_to)
            elif cid.action == ALL:
                _, prompts = await self.prompts.source(interaction, cid)
                await self.prompts.imagine_all(interaction, prompts, job_id=cid.job_id, reply_to=reply_to,
                                               action=ALL)
            elif cid.action.startswith(PICK_PREFIX) and cid.action[len(PICK_PREFIX):].isdigit():
                n = int(cid.action[len(PICK_PREFIX):])
                await self.prompts.open_form(interaction, CustomId(cid.action, cid.job_id, n - 1),
                                             action=cid.action)
            else:
                raise NotAvailable("That button is no longer supported.")
        except Exception as e:
            await self.reporter.report(interaction, e)

    async def _again(self, interaction: discord.Interaction[Any], cid: CustomId, reply_to: int | None) -> None:
        """`🔄`: describe the same image again (its stored link may have expired: then the API fails the job, and
        the reason is shown like any job's). A double press starts one."""
        member = self.prompts.member(interaction)
        source = await self.launcher.follow_up_source(cid.job_id, member, guild_id=interaction.guild_id)
        url = image_url(source)
        if url is None:
            raise NotAvailable("I no longer have the image behind that button.")
        key = f"{AGAIN}:{cid.job_id}"
        existing = await self.launcher.existing(key)
        if existing is not None:
            if existing.message_id is None and not existing.finished:
                await interaction.response.defer(ephemeral=True, thinking=True)
                existing = await self.launcher.wait_for_message(existing)
            raise self.launcher.refuse_existing(existing, None)
        where = where_of(interaction, reply_to)
        what = Launch(request=build(m.Describe, imgUrl=url), action=AGAIN, prompt=source.prompt,
                      extra={"describes": DESCRIBES}, parent_job_id=cid.job_id, dedupe_key=key)
        await start_job(interaction, self.launcher, what, member, where)
