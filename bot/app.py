"""The bot object: cogs from an explicit list, persistent buttons, the job tracker and command sync."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import discord
import httpx
from discord import app_commands
from discord.ext import commands

from bot.config import DiscordConfig, Settings
from bot.db import Database
from bot.legnext.client import LegnextClient
from bot.repo import JobRepo, SettingsRepo

log = logging.getLogger(__name__)

COGS: tuple[str, ...] = ("cogs.imagine", "cogs.settings")

NO_PINGS = discord.AllowedMentions.none()
STALE_FORM_GRACE_S = 1.5


def apply_discord_endpoints(cfg: DiscordConfig) -> None:
    """Point discord.py at a REST proxy / gateway other than Discord's own, when configured."""
    if cfg.api_base_url:
        discord.http.Route.BASE = cfg.api_base_url.rstrip("/")
    if cfg.gateway_url:
        import yarl

        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(cfg.gateway_url)


class MJTree(app_commands.CommandTree["MJBot"]):
    """Every slash-command error becomes one polite ephemeral sentence (see `bot.interactions.report_error`)."""

    async def on_error(self, interaction: discord.Interaction[MJBot], error: app_commands.AppCommandError) -> None:
        from bot.interactions import report_error

        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        await report_error(interaction, original)


class MJBot(commands.Bot):
    def __init__(self, settings: Settings, *, api: LegnextClient, db: Database, http: httpx.AsyncClient) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=MJTree,
            help_command=None,
            allowed_mentions=NO_PINGS,
            guild_ready_timeout=settings.discord.guild_ready_timeout_s,
        )
        from bot.jobs import JobService
        from bot.presenter import Presenter
        from bot.tracker import Tracker

        self.settings = settings
        self.api = api
        self.db = db
        self.http_client = http
        self.jobs_repo = JobRepo(db)
        self.settings_repo = SettingsRepo(db)
        self.presenter = Presenter(self)
        self.tracker = Tracker(api, self.jobs_repo, settings.jobs, self.presenter.show)
        self.service = JobService(
            api=api, repo=self.jobs_repo, settings_repo=self.settings_repo, config=settings, tracker=self.tracker
        )

    async def setup_hook(self) -> None:
        from bot.buttons import DYNAMIC_ITEMS

        for ext in COGS:
            await self.load_extension(ext)
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        await self.tracker.start()
        await self.sync_commands()

    def command_hash(self) -> str:
        payload: list[dict[str, Any]] = [cmd.to_dict(self.tree) for cmd in self.tree.get_commands()]
        # the application id is part of it: the same database reused with another bot's token syncs again
        blob = json.dumps({"app": self.application_id, "commands": payload}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def sync_commands(self) -> None:
        guild_ids = self.settings.discord.guild_ids
        if guild_ids:
            for gid in guild_ids:
                guild = discord.Object(id=gid)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %d", len(synced), gid)
            return
        digest = self.command_hash()
        if await self.db.get_meta("commands_hash") == digest:
            log.info("global commands unchanged; not syncing")
            return
        synced = await self.tree.sync()
        await self.db.set_meta("commands_hash", digest)
        log.info("synced %d global commands (may take up to an hour to appear)", len(synced))

    async def on_interaction(self, interaction: discord.Interaction[MJBot]) -> None:
        """A form (modal) of ours submitted after it expired or after a restart has no live handler: answer it."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if not custom_id.startswith("mj:v1:"):
            return
        await asyncio.sleep(STALE_FORM_GRACE_S)  # a live modal answers (defers) well within this
        if interaction.response.is_done():
            return
        try:
            await interaction.response.send_message(
                "This form has expired (forms last 15 minutes and don't survive a restart). "
                "Press the button again.", ephemeral=True, allowed_mentions=NO_PINGS,
            )
        except discord.HTTPException as e:
            log.info("could not answer a stale form: %s", e)

    async def on_ready(self) -> None:
        user = self.user
        log.info("logged in as %s (%s) in %d guilds", user, user.id if user else "?", len(self.guilds))

    async def close(self) -> None:
        await self.tracker.stop()
        await self.presenter.stop()
        await super().close()
