"""What a feature's extension is given: the services built once at start-up (`bot.client.MJBot`), handed to each
cog through its constructor in the extension's `setup`."""

from __future__ import annotations

from dataclasses import dataclass

from discord.ext import commands

from bot.config import Settings
from bot.core.launcher import Launcher
from bot.legnext.client import LegnextClient
from bot.storage.jobs import JobRepo
from bot.storage.members import SettingsRepo
from bot.storage.meta import MetaRepo
from bot.ui.errors import Reporter
from bot.ui.presenter import Presenter


@dataclass(frozen=True)
class Services:
    settings: Settings
    launcher: Launcher
    presenter: Presenter
    reporter: Reporter
    jobs: JobRepo
    member_settings: SettingsRepo
    meta: MetaRepo
    api: LegnextClient  # for reads only (/balance); jobs start through the launcher


def services_of(bot: commands.Bot) -> Services:
    services = getattr(bot, "services", None)
    if not isinstance(services, Services):
        raise TypeError("the bot has no services: extensions are loaded by bot.client.MJBot")
    return services
