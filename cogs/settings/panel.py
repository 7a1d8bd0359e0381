"""/settings' panel: each member's own defaults as an ephemeral panel of selects and toggles, its persistent
components, and the pure rule of what one choice changes."""

from __future__ import annotations

from typing import Any

import discord

from bot.core.errors import BadInput
from bot.ui.custom_ids import CustomId
from bot.ui.items import FeatureButton, FeatureSelect

COG_NAME = "MemberSettings"


class SettingsButton(FeatureButton, actions=r"set_[a-z0-9_]{1,20}"):
    cog_name = COG_NAME


class SettingsSelect(FeatureSelect, actions=r"sel_set_[a-z0-9_]{1,16}"):
    cog_name = COG_NAME


DYNAMIC_ITEMS = (SettingsButton, SettingsSelect)

SELECTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "version": ("Model version", [("V7 (default)", "7"), ("V6.1", "6.1"), ("V6", "6"), ("Niji 6", "niji 6"),
                                  ("V8", "8"), ("V8.1", "8.1")]),
    "aspect": ("Aspect ratio", [("1:1 (default)", "1:1"), ("2:3 portrait", "2:3"), ("3:2 landscape", "3:2"),
                                ("4:5", "4:5"), ("5:4", "5:4"), ("9:16", "9:16"), ("16:9", "16:9")]),
    "stylize": ("Stylize", [("Stylize low (50)", "50"), ("Stylize med (100, default)", "100"),
                            ("Stylize high (250)", "250"), ("Stylize very high (750)", "750")]),
    "speed": ("Speed", [("Fast mode (default)", "fast"), ("Turbo mode (2x cost)", "turbo")]),
}
DEFAULTS = {"version": "7", "aspect": "1:1", "stylize": "100", "speed": "fast"}
OWNER = "me"  # the panel is ephemeral: whoever presses it is its owner


def render_settings(settings: dict[str, Any]) -> tuple[str, discord.ui.View]:
    view = discord.ui.View(timeout=None)
    for row, (key, (placeholder, choices)) in enumerate(SELECTS.items()):
        current = str(settings.get(key, DEFAULTS[key]))
        options = [discord.SelectOption(label=label, value=value, default=value == current)
                   for label, value in choices]
        view.add_item(SettingsSelect.make(CustomId(f"sel_set_{key}", OWNER, 0), options, placeholder=placeholder,
                                     row=row))
    remix = bool(settings.get("remix"))
    high = settings.get("variation", "high") != "low"
    on, off = discord.ButtonStyle.success, discord.ButtonStyle.secondary
    view.add_item(SettingsButton.plain(CustomId("set_remix", OWNER, 0), "Remix mode", row=4,
                                       style=on if remix else off))
    view.add_item(SettingsButton.plain(CustomId("set_variation", OWNER, 0),
                                       "High Variation Mode" if high else "Low Variation Mode", row=4,
                                       style=on if high else off))
    view.add_item(SettingsButton.plain(CustomId("set_reset", OWNER, 0), "Reset settings", row=4,
                                       style=discord.ButtonStyle.danger))
    content = (
        "**Your /imagine defaults** (added to your prompt unless it sets them itself)\n"
        f"Remix mode: **{'on' if remix else 'off'}** · Variations: **{'high' if high else 'low'}**"
    )
    return content, view


def apply_choice(settings: dict[str, Any], action: str, values: list[str]) -> dict[str, Any]:
    """The settings after one choice on the panel (pure). Raises `BadInput` on a value that isn't offered."""
    out = dict(settings)
    if action.startswith("sel_set_"):
        key = action.removeprefix("sel_set_")
        allowed = {v for _, v in SELECTS.get(key, ("", []))[1]}
        if key not in SELECTS or len(values) != 1 or values[0] not in allowed:
            raise BadInput("That choice isn't available.")
        if values[0] == DEFAULTS[key]:
            out.pop(key, None)
        else:
            out[key] = values[0]
    elif action == "set_remix":
        out["remix"] = not out.get("remix", False)
    elif action == "set_variation":
        out["variation"] = "low" if out.get("variation", "high") != "low" else "high"
    elif action == "set_reset":
        out = {}
    else:
        raise BadInput("That setting isn't available.")
    return out
