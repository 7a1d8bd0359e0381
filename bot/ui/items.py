"""Bases of every feature's persistent components: `discord.ui.DynamicItem`s whose custom_id (`bot.ui.custom_ids`)
carries everything needed, so they keep working after a restart.

A feature subclasses them with its own `template=` (from `custom_ids.template_for`, naming exactly the actions the
feature owns: discord.py calls every class whose template matches, so templates must not overlap) and the name of
the cog that handles them; a press reaches that cog's `on_component(interaction, cid, values)`, which reports its own
errors. Components of ours that no loaded feature owns (an old or forged custom_id, a feature removed) are answered
by `fallback_items`, which the client registers last.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Protocol, Self, cast

import discord

from bot.ui.custom_ids import ACTION_RE, CustomId, parse_id, template_for
from bot.ui.screens import NO_PINGS

NEVER = r"(?!)"  # the bases match nothing; only their subclasses are registered
NOT_SUPPORTED = "That button is no longer supported."


class ComponentHandler(Protocol):
    async def on_component(self, interaction: discord.Interaction[Any], cid: CustomId, values: list[str]) -> None:
        ...


def handler_of(interaction: discord.Interaction[Any], cog_name: str) -> ComponentHandler | None:
    """The cog that handles a feature's components (None when its extension is not loaded)."""
    client = interaction.client
    get_cog = getattr(client, "get_cog", None)
    return cast("ComponentHandler | None", get_cog(cog_name) if get_cog is not None else None)


def _parsed(match: re.Match[str]) -> CustomId:
    # the template guarantees a parse; the item's type is not checked: a button with a select's custom_id (or the
    # reverse) must still reach its handler, which answers it, instead of failing in discord.py
    return parse_id(match.string) or CustomId("invalid", "invalid")


class FeatureButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=NEVER):
    """Subclass with `class X(FeatureButton, actions=r"..."):` (the actions it owns) and set `cog_name`."""

    cog_name: ClassVar[str] = ""
    actions: ClassVar[str] = NEVER

    def __init_subclass__(cls, *, actions: str = NEVER, **kwargs: Any) -> None:
        cls.actions = actions
        super().__init_subclass__(template=template_for(actions), **kwargs)

    def __init__(self, cid: CustomId, button: discord.ui.Button[Any] | None = None) -> None:
        self.cid = cid
        super().__init__(button or discord.ui.Button(custom_id=str(cid), label="?"))

    @classmethod
    def plain(cls, cid: CustomId, label: str, *, row: int = 0,
              style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> Self:
        return cls(cid, discord.ui.Button(custom_id=str(cid), label=label, style=style, row=row))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls(_parsed(match), cast("discord.ui.Button[Any]", item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler = handler_of(interaction, self.cog_name)
        if handler is not None:
            await handler.on_component(interaction, self.cid, [])


class FeatureSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=NEVER):
    """Subclass with `class X(FeatureSelect, actions=r"..."):` (the actions it owns) and set `cog_name`."""

    cog_name: ClassVar[str] = ""
    actions: ClassVar[str] = NEVER

    def __init_subclass__(cls, *, actions: str = NEVER, **kwargs: Any) -> None:
        cls.actions = actions
        super().__init_subclass__(template=template_for(actions), **kwargs)

    def __init__(self, cid: CustomId, select: discord.ui.Select[Any]) -> None:
        self.cid = cid
        super().__init__(select)

    @classmethod
    def make(cls, cid: CustomId, options: list[discord.SelectOption], *, placeholder: str, min_values: int = 1,
             max_values: int = 1, row: int | None = None) -> Self:
        return cls(cid, discord.ui.Select(custom_id=str(cid), options=options, placeholder=placeholder,
                                          min_values=min_values, max_values=max_values, row=row))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        return cls(_parsed(match), cast("discord.ui.Select[Any]", item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler = handler_of(interaction, self.cog_name)
        if handler is not None:
            values = self.item.values if isinstance(self.item, discord.ui.Select) else []
            await handler.on_component(interaction, self.cid, [str(v) for v in values])


Item = type[discord.ui.DynamicItem[Any]]


def fallback_items(registered: list[Item]) -> tuple[Item, ...]:
    """An item for every component of ours (button or select) whose action no registered item owns: answered with
    a sentence instead of Discord's "This interaction failed"."""
    owned = "|".join(f"(?:{getattr(item, 'actions', NEVER)})" for item in registered) or NEVER
    template = template_for(f"(?!(?:{owned}):){ACTION_RE}")

    class UnknownButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=template):
        def __init__(self, item: discord.ui.Button[Any]) -> None:
            super().__init__(item)

        @classmethod
        async def from_custom_id(
            cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
        ) -> Self:
            return cls(cast("discord.ui.Button[Any]", item))

        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            if not interaction.response.is_done():
                await interaction.response.send_message(NOT_SUPPORTED, ephemeral=True, allowed_mentions=NO_PINGS)

    return (UnknownButton,)
