"""/imagine's forms: the remix prompt, Custom Zoom, and what goes in the regions of Vary (Region).

Each form hands its values to a `submit` coroutine given by the cog, and reports its errors through the cog's
reporter (discord.py would only log them).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.core.errors import BadInput
from bot.ui.custom_ids import CustomId, format_id
from bot.vocabulary import ZOOM_MAX, ZOOM_MIN
from cogs.imagine.actions import ZOOM_RANGE

TEXT_INPUT_MAX = 4000

# submit(interaction, cid, reply_to, remix_prompt=..., scale=..., cells=...)
Submit = Callable[..., Awaitable[None]]
OnError = Callable[[discord.Interaction[Any], BaseException], Awaitable[None]]


class _JobModal(discord.ui.Modal):
    def __init__(self, title: str, cid: CustomId, reply_to: int | None, submit: Submit, on_error: OnError) -> None:
        # discord.py routes a submission by the modal's custom_id alone: one per opening, so two members (or V2 and
        # Vary (Subtle) on the same image) with a modal open at once each get their own
        nonce = secrets.token_hex(6)
        super().__init__(title=title, custom_id=format_id("modal", cid.job_id, cid.index, nonce), timeout=900)
        self.cid = cid
        self.reply_to = reply_to
        self.submit = submit
        self.report = on_error

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await self.report(interaction, error)


def _prompt_input(prompt: str, label: str = "Prompt") -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(label=label, style=discord.TextStyle.paragraph, default=prompt[:TEXT_INPUT_MAX],
                                max_length=TEXT_INPUT_MAX, required=True)


class RemixModal(_JobModal):
    def __init__(self, cid: CustomId, prompt: str, reply_to: int | None, submit: Submit, on_error: OnError) -> None:
        super().__init__("Remix Prompt", cid, reply_to, submit, on_error)
        self.prompt: discord.ui.TextInput[Any] = _prompt_input(prompt, "New prompt for the image")
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.submit(interaction, self.cid, self.reply_to, remix_prompt=self.prompt.value)


class ZoomModal(_JobModal):
    def __init__(self, cid: CustomId, prompt: str, reply_to: int | None, submit: Submit, on_error: OnError) -> None:
        super().__init__("Zoom Out", cid, reply_to, submit, on_error)
        self.scale: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=f"Zoom ({ZOOM_MIN} to {ZOOM_MAX})", default="1.5", max_length=4, required=True)
        self.prompt: discord.ui.TextInput[Any] = _prompt_input(prompt)
        self.add_item(self.scale)
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        try:
            scale = float(self.scale.value.strip().removesuffix("x"))
        except ValueError:
            raise BadInput(ZOOM_RANGE) from None
        if not ZOOM_MIN <= scale <= ZOOM_MAX:
            wrote = self.scale.value.strip()[:10]
            raise BadInput(f"The zoom must be from {ZOOM_MIN} to {ZOOM_MAX} (you wrote {wrote}).")
        await self.submit(interaction, self.cid, self.reply_to, remix_prompt=self.prompt.value.strip(), scale=scale)


class RegionModal(_JobModal):
    def __init__(self, cid: CustomId, prompt: str, reply_to: int | None, submit: Submit, on_error: OnError) -> None:
        super().__init__("Vary (Region)", cid, reply_to, submit, on_error)
        self.prompt: discord.ui.TextInput[Any] = _prompt_input(prompt, "What goes in the picked regions")
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.submit(interaction, CustomId("vary_region", self.cid.job_id, self.cid.index), self.reply_to,
                          remix_prompt=self.prompt.value.strip(), cells=self.cid.extra)
