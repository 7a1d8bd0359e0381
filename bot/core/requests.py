"""Requests more than one feature starts: an /imagine of a prompt (typed, picked from a /describe or a /shorten, or
edited in a form) with the member's /settings defaults. Pure: no I/O, no Discord."""

from __future__ import annotations

from typing import Any

from bot.core.launcher import Launch
from bot.core.prompt import apply_defaults, check_prompt, parse_prompt
from bot.legnext import models as m
from bot.legnext.client import build

# /settings keys -> prompt flag defaults (see bot.core.prompt.apply_defaults)
FLAG_SETTINGS = ("version", "aspect", "stylize", "speed")


def defaults_from(settings: dict[str, Any]) -> dict[str, str | None]:
    return {k: str(settings[k]) for k in FLAG_SETTINGS if settings.get(k)}


def imagine_prompt(prompt: str, settings: dict[str, Any]) -> str:
    """The prompt with the member's defaults, checked and normalised. Raises `PromptError` (costs nothing)."""
    full = apply_defaults(prompt.strip(), defaults_from(settings))
    # the API gets the normalised form: `—ar 16:9` typed on a phone is sent as `--ar 16:9`
    return check_prompt(full).render()


def imagine_launch(prompt: str, settings: dict[str, Any], *, action: str = "imagine",
                   extra: dict[str, Any] | None = None) -> Launch:
    """An /imagine of `prompt` (`action` names where it came from, e.g. a /describe button)."""
    full = imagine_prompt(prompt, settings)
    return Launch(request=build(m.Diffusion, text=full), action=action, prompt=full,
                  extra={"model": parse_prompt(full).version, **(extra or {})})
