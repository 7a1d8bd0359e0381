"""The one error renderer: any error of a command, button or form becomes one polite ephemeral sentence (discord.py
would only log a button's or a form's), and moderators are alerted where the error calls for it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.core.errors import Alert, UserError, alert_for, user_message
from bot.core.prompt import PromptError
from bot.legnext.errors import LegnextError
from bot.ui.screens import NO_PINGS as NO_PINGS
from bot.ui.screens import error_text

log = logging.getLogger(__name__)



async def send_ephemeral(interaction: discord.Interaction[Any], text: str,
                         view: discord.ui.View | None = None) -> None:
    kwargs: dict[str, Any] = {"ephemeral": True, "allowed_mentions": NO_PINGS}
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(error_text(text), **kwargs)
    else:
        await interaction.response.send_message(error_text(text), **kwargs)


def where_it_happened(interaction: discord.Interaction[Any]) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: dict[str, Any] = dict(interaction.data or {})
    return str(data.get("custom_id", "interaction"))


class Reporter:
    """Tells members what went wrong; `alert` posts to the moderators' channel (the presenter's)."""

    def __init__(self, alert: Callable[[Alert], Awaitable[bool]], *, alert_channel: bool) -> None:
        self.alert = alert  # True when the alert is out (posted now or before)
        self.alert_channel = alert_channel  # only then, and once the alert is out, are members told the moderators know

    async def sentence(self, exc: BaseException) -> str:
        """The member's sentence for `exc`. A refusal moderators are alerted about (401, 402) is alerted first; the
        sentence says the moderators know only when the alert was posted in the alert channel."""
        kind = alert_for(exc)
        alerted = await self.alert(kind) if kind is not None else False
        return user_message(exc, moderators_alerted=self.alert_channel and alerted)

    async def report(self, interaction: discord.Interaction[Any], exc: BaseException,
                     view: discord.ui.View | None = None) -> None:
        if not isinstance(exc, UserError | PromptError | LegnextError):
            log.error("unexpected error in %s", where_it_happened(interaction), exc_info=exc)
        else:
            log.info("refused %s: %r", where_it_happened(interaction), exc)
        text = await self.sentence(exc)
        try:
            await send_ephemeral(interaction, text, view)
        except discord.HTTPException as e:
            log.warning("could not tell the member about an error: %s", e)
