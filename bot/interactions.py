"""The flow of a press, a select or a modal, and the single error renderer for commands, buttons and modals."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

import discord

from bot import actions as A
from bot.custom_ids import CustomId, format_id
from bot.errors import BadInput, NotAvailable, OutcomeUnknownAgain, UserError, alert_for, user_message
from bot.jobs import Member, Where
from bot.legnext.errors import LegnextError
from bot.prompt import PromptError
from bot.regions import CELL_NAMES
from bot.render import error_text
from bot.repo import JobRecord

if TYPE_CHECKING:
    from bot.app import MJBot

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
TEXT_INPUT_MAX = 4000
AGAIN = "again"  # the confirmation button after an unknown outcome: mj:v1:again:<job>:<index>:<action>


def member_of(interaction: discord.Interaction[Any]) -> Member:
    """The member and whether they moderate: Manage Server, or a configured moderator role."""
    user = interaction.user
    bot: MJBot = interaction.client
    is_mod = False
    if isinstance(user, discord.Member):
        perms = interaction.permissions
        role_ids = {r.id for r in user.roles}
        is_mod = perms.manage_guild or bool(role_ids & set(bot.settings.moderation.moderator_role_ids))
    return Member(id=user.id, is_moderator=is_mod)


def where_of(interaction: discord.Interaction[Any], reply_to: int | None = None) -> Where:
    """Where a job started by this interaction is shown, and what the bot may do there."""
    channel = interaction.channel
    in_thread = isinstance(channel, discord.Thread) or getattr(channel, "type", None) in (
        discord.ChannelType.public_thread, discord.ChannelType.private_thread, discord.ChannelType.news_thread)
    return Where(
        interaction.guild_id, interaction.channel_id, reply_to,
        bot_permissions=interaction.app_permissions.value, in_thread=in_thread,
        answer_to=(interaction.application_id, interaction.token),
    )


async def send_ephemeral(interaction: discord.Interaction[Any], text: str,
                         view: discord.ui.View | None = None) -> None:
    kwargs: dict[str, Any] = {"ephemeral": True, "allowed_mentions": NO_PINGS}
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(error_text(text), **kwargs)
    else:
        await interaction.response.send_message(error_text(text), **kwargs)


async def report_error(interaction: discord.Interaction[Any], exc: BaseException) -> None:
    """Tell the member, in one ephemeral sentence; alert moderators where the error calls for it."""
    if not isinstance(exc, UserError | PromptError | LegnextError):
        log.error("unexpected error in %s", _where(interaction), exc_info=exc)
    else:
        log.info("refused %s: %r", _where(interaction), exc)
    bot: MJBot = interaction.client
    alert = alert_for(exc)
    if alert is not None:
        await bot.presenter.alert(alert)
    view = None
    if isinstance(exc, OutcomeUnknownAgain) and exc.confirmable:
        from bot.buttons import JobButton

        view = discord.ui.View(timeout=None)
        view.add_item(JobButton.plain(CustomId(AGAIN, exc.job_id, exc.index, exc.action),
                                      "Run it again (may be charged twice)", style=discord.ButtonStyle.danger))
    sentence = user_message(exc, moderators_alerted=bool(bot.settings.moderation.alert_channel_id))
    try:
        await send_ephemeral(interaction, sentence, view)
    except discord.HTTPException as e:
        log.warning("could not tell the member about an error: %s", e)


def _where(interaction: discord.Interaction[Any]) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: dict[str, Any] = dict(interaction.data or {})
    return str(data.get("custom_id", "interaction"))


# -------------------------------------------------------------------------------------------------------- presses

async def handle_component(interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
    try:
        if cid.action.startswith(("set_", "sel_set_")):
            from bot.settings_panel import handle_settings

            await handle_settings(interaction, cid, values)
        elif cid.action == "sel_region":
            await _region_picked(interaction, cid, values)
        elif cid.action == AGAIN:
            await _press_again(interaction, cid)
        else:
            await _press(interaction, cid)
    except Exception as e:
        await report_error(interaction, e)


async def _press(interaction: discord.Interaction[Any], cid: CustomId) -> None:
    bot: MJBot = interaction.client
    service = bot.service
    member = member_of(interaction)
    reply_to = interaction.message.id if interaction.message is not None else None
    service.check_channel(where_of(interaction, reply_to))  # before any form: nothing could be shown here
    existing = await service.existing_press(cid.action, cid.job_id, cid.index)
    if existing is not None:
        if existing.message_id is None and not existing.finished:  # still posting its message: wait for its link
            await interaction.response.defer(ephemeral=True, thinking=True)
            existing = await service.wait_for_message(existing)
        raise service.refuse_existing(existing, cid.action, cid.job_id, cid.index)
    source = await service.source_for_press(cid.action, cid.job_id, cid.index, member)
    action = A.ACTIONS[cid.action]
    if action.modal == "zoom":
        await interaction.response.send_modal(ZoomModal(cid, source.prompt, reply_to))
        return
    if action.modal == "region":
        options = [discord.SelectOption(label=name, value=str(i + 1)) for i, name in enumerate(CELL_NAMES)]
        from bot.buttons import JobSelect

        select = JobSelect.make(
            CustomId("sel_region", cid.job_id, cid.index), options, placeholder="Regions to vary",
            max_values=len(options),
        )
        view = discord.ui.View(timeout=None)
        view.add_item(select)
        await interaction.response.send_message(
            "**Vary (Region)**: pick the parts of the image to redraw (a 3×3 grid), then describe what goes there.",
            view=view, ephemeral=True, allowed_mentions=NO_PINGS,
        )
        return
    settings = await bot.settings_repo.get(member.id)
    if action.remixable and settings.get("remix"):
        await interaction.response.send_modal(RemixModal(cid, source.prompt, reply_to))
        return
    await start_follow_up(interaction, cid, reply_to)


REGION_VALUES = frozenset(str(i + 1) for i in range(len(CELL_NAMES)))


async def _press_again(interaction: discord.Interaction[Any], cid: CustomId) -> None:
    """The member confirmed running a press again although the last one's outcome is unknown."""
    action = cid.extra or ""
    if action not in A.ACTIONS or A.ACTIONS[action].modal is not None:
        raise NotAvailable("That button is no longer supported.")
    bot: MJBot = interaction.client
    # the result replies to the message whose button was pressed: the upscaled image's, or the grid's
    reply_to = await bot.jobs_repo.upscale_message(cid.job_id, cid.index) if A.is_upscaled(action) else None
    if reply_to is None:
        grid = await bot.jobs_repo.by_job_id(cid.job_id)
        reply_to = grid.message_id if grid is not None else None
    await start_follow_up(interaction, CustomId(action, cid.job_id, cid.index), reply_to, again_after_unknown=True)


async def _region_picked(interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
    bot: MJBot = interaction.client
    # only the options offered: anything else would fail later (in the modal's custom_id or the mask)
    if not values or not set(values) <= REGION_VALUES:
        raise BadInput("Pick at least one region of the image to vary.")
    cells = "".join(sorted(set(values)))
    source = await bot.service.source_for_press("vary_region", cid.job_id, cid.index, member_of(interaction))
    shown = await bot.jobs_repo.upscale_message(cid.job_id, cid.index)
    await interaction.response.send_modal(
        RegionModal(CustomId("vary_region", cid.job_id, cid.index, cells), source.prompt, shown)
    )


async def start_follow_up(interaction: discord.Interaction[Any], cid: CustomId, reply_to: int | None,
                          **kwargs: Any) -> None:
    """Defer, start the job (recorded before it is submitted), post its message, hand it to the tracker."""
    bot: MJBot = interaction.client
    await interaction.response.defer(ephemeral=True, thinking=True)
    job = await bot.service.press(cid.action, cid.job_id, cid.index, member_of(interaction),
                                  where_of(interaction, reply_to), **kwargs)
    await post_and_track(interaction, job, reply_to)


async def post_and_track(interaction: discord.Interaction[Any], job: JobRecord, reply_to: int | None) -> None:
    """The job was accepted by the API: post its message, hand it to the tracker, tell the member the truth.
    Nothing here may tell the member to try again (that would pay twice)."""
    bot: MJBot = interaction.client
    message = None
    try:
        message = await bot.presenter.post(job, interaction.channel, reply_to)
    except Exception as e:  # the tracker and delivery post it later; the job is running either way
        log.warning("could not post the message of job %d yet: %s", job.id, e)
    job = await bot.service.attach_message(job, message.id if message else None, interaction.channel_id)
    if message is not None:
        text = f"Started: {message.jump_url}"
    else:
        text = ("Started: your job is running at Legnext. I couldn't post its message in this channel yet; "
                "its result will appear here when it's done.")
    try:
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as e:
        log.info("could not answer the member about job %d: %s", job.id, e)
        return
    await bot.service.forget_ack(job)


# -------------------------------------------------------------------------------------------------------- modals

class _JobModal(discord.ui.Modal):
    def __init__(self, title: str, cid: CustomId, reply_to: int | None) -> None:
        # discord.py routes a submission by the modal's custom_id alone: one per opening, so two members (or V2 and
        # Vary (Subtle) on the same image) with a modal open at once each get their own
        nonce = secrets.token_hex(6)
        super().__init__(title=title, custom_id=format_id("modal", cid.job_id, cid.index, nonce), timeout=900)
        self.cid = cid
        self.reply_to = reply_to

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await report_error(interaction, error)


def _prompt_input(prompt: str, label: str = "Prompt") -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(label=label, style=discord.TextStyle.paragraph, default=prompt[:TEXT_INPUT_MAX],
                                max_length=TEXT_INPUT_MAX, required=True)


class RemixModal(_JobModal):
    def __init__(self, cid: CustomId, prompt: str, reply_to: int | None) -> None:
        super().__init__("Remix Prompt", cid, reply_to)
        self.prompt: discord.ui.TextInput[Any] = _prompt_input(prompt, "New prompt for the image")
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await start_follow_up(interaction, self.cid, self.reply_to, remix_prompt=self.prompt.value)


class ZoomModal(_JobModal):
    def __init__(self, cid: CustomId, prompt: str, reply_to: int | None) -> None:
        super().__init__("Zoom Out", cid, reply_to)
        self.scale: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Zoom (1.1 to 2.0)", default="1.5", max_length=4, required=True)
        self.prompt: discord.ui.TextInput[Any] = _prompt_input(prompt)
        self.add_item(self.scale)
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        try:
            scale = float(self.scale.value.strip().removesuffix("x"))
        except ValueError:
            raise BadInput("The zoom must be a number from 1.1 to 2.0, like `1.5`.") from None
        if not 1.1 <= scale <= 2.0:
            raise BadInput(f"The zoom must be from 1.1 to 2.0 (you wrote {self.scale.value.strip()[:10]}).")
        await start_follow_up(interaction, self.cid, self.reply_to, remix_prompt=self.prompt.value.strip(),
                              scale=scale)


class RegionModal(_JobModal):
    def __init__(self, cid: CustomId, prompt: str, reply_to: int | None) -> None:
        super().__init__("Vary (Region)", cid, reply_to)
        self.prompt: discord.ui.TextInput[Any] = _prompt_input(prompt, "What goes in the picked regions")
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await start_follow_up(interaction, CustomId("vary_region", self.cid.job_id, self.cid.index),
                              self.reply_to, remix_prompt=self.prompt.value.strip(), cells=self.cid.extra)


__all__ = ["NotAvailable", "handle_component", "member_of", "post_and_track", "report_error", "send_ephemeral"]
