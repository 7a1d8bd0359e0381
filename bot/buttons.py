"""Persistent components: `discord.ui.DynamicItem`s whose custom_id (bot.custom_ids) carries everything needed.

They keep working after a restart. Their callbacks hand over to `bot.interactions`, which owns the flow and reports
every error as one ephemeral sentence (discord.py would only log it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.custom_ids import BUTTON_TEMPLATE, SELECT_TEMPLATE, CustomId, parse_id

if TYPE_CHECKING:
    from bot.actions import Action


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON_TEMPLATE):
    def __init__(self, cid: CustomId, button: discord.ui.Button[Any] | None = None) -> None:
        self.cid = cid
        super().__init__(button or discord.ui.Button(custom_id=str(cid), label="?"))

    @classmethod
    def make(cls, action: Action, cid: CustomId, *, style: discord.ButtonStyle = discord.ButtonStyle.secondary,
             disabled: bool = False) -> JobButton:
        return cls(cid, discord.ui.Button(
            custom_id=str(cid), label=action.label, emoji=action.emoji, style=style, row=action.row,
            disabled=disabled,
        ))

    @classmethod
    def plain(cls, cid: CustomId, label: str, *, row: int = 0,
              style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> JobButton:
        return cls(cid, discord.ui.Button(custom_id=str(cid), label=label, style=style, row=row))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobButton:
        # the template guarantees a parse; the item's type is not checked: a button with a select's custom_id (or
        # the reverse) must still reach `handle_component`, which answers it, instead of failing in discord.py
        cid = parse_id(match.string) or CustomId("invalid", "invalid")
        return cls(cid, cast("discord.ui.Button[Any]", item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        from bot.interactions import handle_component

        await handle_component(interaction, self.cid, [])


class JobSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=SELECT_TEMPLATE):
    def __init__(self, cid: CustomId, select: discord.ui.Select[Any]) -> None:
        self.cid = cid
        super().__init__(select)

    @classmethod
    def make(cls, cid: CustomId, options: list[discord.SelectOption], *, placeholder: str, min_values: int = 1,
             max_values: int = 1, row: int | None = None) -> JobSelect:
        return cls(cid, discord.ui.Select(custom_id=str(cid), options=options, placeholder=placeholder,
                                          min_values=min_values, max_values=max_values, row=row))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobSelect:
        cid = parse_id(match.string) or CustomId("invalid", "invalid")
        return cls(cid, cast("discord.ui.Select[Any]", item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        from bot.interactions import handle_component

        values = self.item.values if isinstance(self.item, discord.ui.Select) else []
        await handle_component(interaction, self.cid, [str(v) for v in values])


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (JobButton, JobSelect)
