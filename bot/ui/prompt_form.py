"""Prompts a finished text job offers (/describe's four, /shorten's five): the form that opens with one of them,
editable, and the /imagine it then starts for whoever pressed (the member's /settings defaults, the prompt checks and
limits of a typed /imagine). Shared by every feature that offers prompts; features never import each other.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import discord

from bot.core.errors import NotAvailable, UserError
from bot.core.launcher import Launcher, Member, message_link
from bot.core.prompt import PromptError
from bot.core.requests import imagine_launch
from bot.legnext import models as m
from bot.legnext.errors import LegnextError
from bot.storage.jobs import JobRecord
from bot.storage.members import SettingsRepo
from bot.ui.answers import start_job
from bot.ui.custom_ids import CustomId, format_id
from bot.ui.errors import Reporter, send_ephemeral
from bot.ui.items import FeatureButton
from bot.ui.members import member_of, where_of
from bot.ui.screens import (
    COLOUR_DONE,
    EMBED_DESC_LIMIT,
    Rendered,
    cut,
    footer,
    render_plain,
    safe_text,
)
from bot.vocabulary import JobStatus

log = logging.getLogger(__name__)

TEXT_INPUT_MAX = 4000  # Discord's limit on a text input's value
FORM_TITLE = "Imagine this prompt"

NUMBERS = ("1\ufe0f\u20e3", "2\ufe0f\u20e3", "3\ufe0f\u20e3", "4\ufe0f\u20e3", "5\ufe0f\u20e3")  # 1️⃣ .. 5️⃣

OnSubmit = Callable[[discord.Interaction[Any], str], Awaitable[None]]
OnError = Callable[[discord.Interaction[Any], BaseException], Awaitable[None]]


def number_buttons(view: discord.ui.View, item: type[FeatureButton], prefix: str, job_id: str, count: int) -> None:
    """`1️⃣`..: one button per prompt of `job_id` on the first row, actions `<prefix>1`.. (index: the prompt's)."""
    for i in range(min(count, len(NUMBERS))):
        cid = CustomId(f"{prefix}{i + 1}", job_id, i)
        view.add_item(item(cid, discord.ui.Button(custom_id=str(cid), emoji=NUMBERS[i], row=0)))


class PromptForm(discord.ui.Modal):
    """A form with one prompt, editable; its submission hands the text to `on_submit(interaction, prompt)` and any
    error to `on_error(interaction, error)` (discord.py would only log it)."""

    def __init__(self, prompt: str, on_submit: OnSubmit, on_error: OnError, *, cid: CustomId,
                 title: str = FORM_TITLE, label: str = "Prompt") -> None:
        # discord.py routes a submission by the modal's custom_id alone: one per opening
        super().__init__(title=title[:45], custom_id=format_id("modal", cid.job_id, cid.index,
                                                               secrets.token_hex(6)), timeout=900)
        self.prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=label[:45], style=discord.TextStyle.paragraph, default=prompt[:TEXT_INPUT_MAX] or None,
            max_length=TEXT_INPUT_MAX, required=True)
        self.add_item(self.prompt)
        self._on_submit = on_submit
        self._on_error = on_error

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_submit(interaction, self.prompt.value)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await self._on_error(interaction, error)


def prompts_of(job: JobRecord) -> list[str]:
    """The prompts a finished describe/shorten job offers (`output.prompts`, else split out of `promptEn`)."""
    try:
        return m.JobOutput.model_validate(job.output or {}).describe_prompts()
    except ValueError:
        return []


def render_prompts(job: Any, attached: Sequence[str], view: discord.ui.View | None, *, limit: int,
                   thumbnail: str | None = None) -> Rendered:
    """A finished describe/shorten job: the headline, then its first `limit` prompts numbered `1️⃣ ...` in the
    embed (each made safe: mentions never ping, markdown escaped), the image as the thumbnail, and `view` (the
    buttons; only when it completed with prompts). Anything else is the generic screen."""
    prompts = prompts_of(job)[:limit] if job.status == JobStatus.COMPLETED else []
    if not prompts:
        return render_plain(job, attached, None)
    plain = render_plain(job, attached, None)
    sep = "\n\n"
    per = (EMBED_DESC_LIMIT - len(prompts) * (len(NUMBERS[0]) + 1 + len(sep))) // len(prompts)
    description = sep.join(f"{NUMBERS[i]} {safe_text(p, per)}" for i, p in enumerate(prompts))
    embed = discord.Embed(colour=COLOUR_DONE, description=description[:EMBED_DESC_LIMIT])
    if thumbnail and thumbnail.startswith(("https://", "http://")) and len(thumbnail) <= 2048:
        embed.set_thumbnail(url=thumbnail)
    embed.set_footer(text=" · ".join(footer(job).split(" · ")[1:]) or None)  # no model: it's a text job
    return Rendered(plain.content, embed, view)


class PromptImagine:
    """What a feature's prompt buttons do: open the form with prompt N, and start /imagine jobs of prompts."""

    def __init__(self, *, launcher: Launcher, member_settings: SettingsRepo, reporter: Reporter,
                 moderator_role_ids: list[int]) -> None:
        self.launcher = launcher
        self.member_settings = member_settings
        self.reporter = reporter
        self.moderator_role_ids = moderator_role_ids

    def member(self, interaction: discord.Interaction[Any]) -> Member:
        return member_of(interaction, self.moderator_role_ids)

    async def source(self, interaction: discord.Interaction[Any], cid: CustomId) -> tuple[JobRecord, list[str]]:
        """The finished job behind a button, if the presser may use it, and the prompts it offers."""
        source = await self.launcher.follow_up_source(cid.job_id, self.member(interaction),
                                                       guild_id=interaction.guild_id)
        prompts = prompts_of(source)
        if not prompts:
            raise NotAvailable("That job has no prompts to use.")
        return source, prompts

    async def open_form(self, interaction: discord.Interaction[Any], cid: CustomId, *, action: str,
                        extra: dict[str, Any] | None = None) -> None:
        """Prompt number `cid.index` (0-based) of the job behind the button, in a form; its submission imagines it
        (the result replies to the pressed message)."""
        _, prompts = await self.source(interaction, cid)
        if not 0 <= cid.index < len(prompts):
            raise NotAvailable("That prompt isn't offered for this job.")
        reply_to = interaction.message.id if interaction.message is not None else None
        member = self.member(interaction)
        # before the form: the bot's permissions there, the server's limits
        await self.launcher.check_free(member, where_of(interaction, reply_to))

        async def submit(inter: discord.Interaction[Any], prompt: str) -> None:
            await self.imagine(inter, prompt, reply_to=reply_to, action=action, extra=extra)

        await interaction.response.send_modal(PromptForm(prompts[cid.index], submit, self.reporter.report, cid=cid))

    async def imagine(self, interaction: discord.Interaction[Any], prompt: str, *, reply_to: int | None,
                      action: str, extra: dict[str, Any] | None = None) -> None:
        """An /imagine of `prompt` for whoever is behind `interaction`, answered like /imagine."""
        member = self.member(interaction)
        where = where_of(interaction, reply_to)
        what = imagine_launch(prompt, await self.member_settings.get(member.id), action=action, extra=extra)
        await start_job(interaction, self.launcher, what, member, where)

    async def imagine_all(self, interaction: discord.Interaction[Any], prompts: Sequence[str], *, job_id: str,
                          reply_to: int | None, action: str, extra: dict[str, Any] | None = None) -> None:
        """An /imagine of each prompt, one by one through the launcher (each with its own double-press key, so a
        second press starts only those the first did not); one ephemeral answer says what started and what not."""
        member = self.member(interaction)
        where = where_of(interaction, reply_to)
        self.launcher.check_channel(where)
        keys = [f"{action}:{job_id}:{i}" for i in range(len(prompts))]
        existing = [await self.launcher.existing(k) for k in keys]
        if all(e is not None for e in existing):  # a second press: nothing new to start
            first = existing[0]
            assert first is not None
            raise self.launcher.refuse_existing(first, None)
        await self.launcher.check_free(member, where)
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self.member_settings.get(member.id)
        started: list[str] = []
        refused: list[str] = []
        jobs: list[JobRecord] = []
        for i, (prompt, key) in enumerate(zip(prompts, keys, strict=True)):
            try:
                what = replace(imagine_launch(prompt, settings, action=action, extra=extra), dedupe_key=key)
                job = await self.launcher.launch(what, member, where)
            except (UserError, PromptError, LegnextError) as e:
                if not isinstance(e, UserError | PromptError):
                    log.info("imagine all: prompt %d refused: %r", i + 1, e)
                refused.append(f"prompt {i + 1}: {await self.reporter.sentence(e)}")
                continue
            jobs.append(job)
            link = message_link(job)
            started.append(f"prompt {i + 1}" + (f" {link}" if link else ""))
        text = f"Started {len(started)} of {len(prompts)}"
        text += (": " + ", ".join(started)) if started else "."
        if refused:
            text += "\n" + "\n".join(refused)
        try:
            await send_ephemeral(interaction, cut(text))
        except discord.HTTPException as e:
            log.info("could not answer the member about imagine all: %s", e)
            return
        for job in jobs:
            await self.launcher.forget_ack(job)

