"""The client: the services built once at start-up (launcher, tracker, delivery, presenter), the feature
extensions from an explicit list, and the command sync."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from typing import Any

import discord
import httpx
import yarl
from discord import app_commands
from discord.ext import commands

from bot.config import ConfigError, DiscordConfig, Settings
from bot.core.alerts import AlertWatch
from bot.core.delivery import Delivery
from bot.core.launcher import Launcher
from bot.core.metrics import Metrics
from bot.core.tracker import Tracker
from bot.legnext.client import LegnextClient
from bot.legnext.errors import AuthError, LegnextError
from bot.storage.database import Database
from bot.storage.jobs import JobRecord, JobRepo
from bot.storage.limits import LimitsRepo
from bot.storage.members import SettingsRepo
from bot.storage.meta import MetaRepo
from bot.storage.tools import HEARTBEAT_INTERVAL_S, HEARTBEAT_KEY
from bot.ui.errors import Reporter
from bot.ui.items import fallback_items
from bot.ui.presenter import Presenter
from bot.ui.screens import NO_PINGS
from bot.ui.services import Services
from bot.web.server import WebServer, callback_url

log = logging.getLogger(__name__)

# The feature extensions: adding or removing a feature is one line here.
EXTENSIONS: tuple[str, ...] = ("cogs.imagine", "cogs.settings", "cogs.blend", "cogs.describe", "cogs.shorten",
                               "cogs.balance", "cogs.spending", "cogs.video")

STALE_FORM_GRACE_S = 1.5


def apply_discord_endpoints(cfg: DiscordConfig) -> None:
    """Point discord.py at a REST proxy / gateway other than Discord's own, when configured."""
    if cfg.api_base_url:
        discord.http.Route.BASE = cfg.api_base_url.rstrip("/")
    if cfg.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(cfg.gateway_url)


class MJTree(app_commands.CommandTree["MJBot"]):
    """Every slash-command error becomes one polite ephemeral sentence (`bot.ui.errors.Reporter`)."""

    async def on_error(self, interaction: discord.Interaction[MJBot], error: app_commands.AppCommandError) -> None:
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        await self.client.reporter.report(interaction, original)


class MJBot(commands.Bot):
    def __init__(self, settings: Settings, *, api: LegnextClient, db: Database, http: httpx.AsyncClient,
                 simulated: bool = False) -> None:
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
        self.settings = settings
        self.api = api
        self.db = db
        self.http_client = http
        self.jobs_repo = JobRepo(db)
        self.settings_repo = SettingsRepo(db)
        self.meta = MetaRepo(db)
        self.metrics = Metrics()
        self.presenter = Presenter(self, settings=settings, jobs=self.jobs_repo, meta=self.meta, http=http,
                                   metrics=self.metrics)
        # the moderators' alerts (low balance, key refused, out of credits): told of every API answer
        self.alerts = AlertWatch(meta=self.meta, read_balance=api.balance, post=self.presenter.post_alert,
                                 config=settings.moderation)
        api.on_request = self._api_answered
        self.reporter = Reporter(self.alerts.refused, alert_channel=bool(settings.moderation.alert_channel_id))
        self.delivery = Delivery(self.jobs_repo, settings.jobs, self.presenter.deliver, metrics=self.metrics)
        self.tracker = Tracker(api, self.jobs_repo, settings.jobs, self._job_changed, metrics=self.metrics)
        self.limits_repo = LimitsRepo(db)
        self.launcher = Launcher(
            api=api, repo=self.jobs_repo, config=settings, tracker=self.tracker, owe=self.delivery.owe,
            announce=self.presenter.announce, simulated=simulated, limits=self.limits_repo,
            show=self.presenter.show_status,
        )
        # what each feature's extension is given (see bot.ui.services)
        self.services = Services(
            settings=settings, launcher=self.launcher, presenter=self.presenter, reporter=self.reporter,
            jobs=self.jobs_repo, member_settings=self.settings_repo, meta=self.meta, api=api,
        )
        self._answers: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._feature_items: list[type[discord.ui.DynamicItem[Any]]] = []
        self.callback_token: str | None = None
        self.web: WebServer | None = None  # set by start-up when `web.listen` is set

    def add_dynamic_items(self, *items: type[discord.ui.DynamicItem[Any]]) -> None:
        self._feature_items.extend(items)
        super().add_dynamic_items(*items)

    def remove_dynamic_items(self, *items: type[discord.ui.DynamicItem[Any]]) -> None:
        self._feature_items[:] = [i for i in self._feature_items if i not in items]
        super().remove_dynamic_items(*items)

    def _api_answered(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.metrics.api_request(endpoint, method, status, seconds)
        self.alerts.answered(endpoint, method, status, seconds)

    async def _job_changed(self, job: JobRecord, final: bool) -> None:
        """The tracker wrote a new state: a final one is owed to the channel until Discord accepts it."""
        if final:
            self.delivery.owe(job)
            self.launcher.wake()  # a place at the API is free: the queue sends the next job
        else:
            await self.presenter.show_status(job)

    async def setup_hook(self) -> None:
        await self.alerts.start()  # first: what was alerted before a restart is known before any API answer
        for ext in EXTENSIONS:  # each registers its cog, its persistent components and how its jobs look
            await self.load_extension(ext)
        # last: our custom_ids that no loaded feature owns (old, forged, a removed feature) are still answered
        super().add_dynamic_items(*fallback_items(self._feature_items))
        await self.check_legnext_key()
        await self.enable_callbacks()
        await self.tracker.start()
        await self.delivery.start()
        self.launcher.start_queue()  # jobs queued before a restart go on
        self._answers = asyncio.create_task(self.presenter.resolve_answers(), name="resolve-answers")
        self._heartbeat = asyncio.create_task(self.beat(), name="heartbeat")
        await self.sync_commands()

    async def enable_callbacks(self) -> None:
        """With `web.public_url`, every submit asks Legnext to call back (at a path with a token made once and
        kept); polling slows down to a safety net for lost callbacks."""
        public = self.settings.web.public_url
        if not public or not self.settings.web.listen:
            return
        token = await self.meta.get("callback_token")
        if not token:
            token = secrets.token_urlsafe(32)
            await self.meta.set("callback_token", token)
        self.callback_token = token
        self.launcher.callback_url = callback_url(public, token)
        self.tracker.safety_net_only = True
        log.info("Legnext callbacks on, at %s/...", public)

    def gateway_connected(self) -> bool:
        ws = self.ws
        return self.is_ready() and not self.is_closed() and ws is not None and bool(ws.open)

    async def beat(self) -> None:
        """While connected to Discord, write the time into `meta` every HEARTBEAT_INTERVAL_S: `mjbot health` (the
        Docker HEALTHCHECK) reads it."""
        while True:
            if self.gateway_connected():
                try:
                    await self.meta.set(HEARTBEAT_KEY, f"{time.time():.0f}")
                except Exception as e:  # the health check will say so; keep beating
                    log.warning("could not write the heartbeat: %s", e)
            await asyncio.sleep(HEARTBEAT_INTERVAL_S if self.gateway_connected() else 1.0)

    def command_hash(self) -> str:
        payload: list[dict[str, Any]] = [cmd.to_dict(self.tree) for cmd in self.tree.get_commands()]
        # the application id is part of it: the same database reused with another bot's token syncs again
        blob = json.dumps({"app": self.application_id, "commands": payload}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def check_legnext_key(self) -> None:
        """Read the balance once at start. A refused key stops the start (`ConfigError`: exit 2); an API that cannot
        be reached or fails only earns a warning (jobs retry on their own); the read is retried once at most."""
        try:
            async with asyncio.timeout(10):
                balance = await self.api.balance(retries=1)
        except AuthError:
            raise ConfigError(["Legnext refused the API key (legnext.api_key / LEGNEXT_API_KEY)"]) from None
        except LegnextError as e:
            cause = e.message if e.status in (0, 200) else f"HTTP {e.status}: {e.message}"
            log.warning("could not check the Legnext API key at %s (%s); starting anyway", self.api.base_url, cause)
            return
        except TimeoutError:
            log.warning("could not check the Legnext API key at %s (no answer within 10s); starting anyway",
                        self.api.base_url)
            return
        log.info("Legnext API key accepted: %s points available (credits + bonus points)",
                 balance.data.spendable_points)

    async def sync_commands(self) -> None:
        """With `discord.guild_ids`: the commands go to each of those guilds (instant). A guild the bot is not in
        stops the start with one `ConfigError` problem per such guild. Without: a global sync, only when the
        command set changed. Definitions Discord refuses raise `app_commands.CommandSyncFailure` (400, 50035)."""
        guild_ids = self.settings.discord.guild_ids
        if guild_ids:
            not_in: list[str] = []
            for gid in guild_ids:
                guild = discord.Object(id=gid)
                self.tree.copy_global_to(guild=guild)
                try:
                    synced = await self.tree.sync(guild=guild)
                except (discord.Forbidden, discord.NotFound) as e:
                    if e.code not in (50001, 10004):  # Missing Access, Unknown Guild
                        raise
                    not_in.append(
                        f"the bot is not in guild {gid} (discord.guild_ids): invite it first, or remove the id")
                    continue
                log.info("synced %d commands to guild %d", len(synced), gid)
            if not_in:
                raise ConfigError(not_in)
            return
        digest = self.command_hash()
        if await self.meta.get("commands_hash") == digest:
            log.info("global commands unchanged; not syncing")
            return
        synced = await self.tree.sync()
        await self.meta.set("commands_hash", digest)
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
        for task in (self._answers, self._heartbeat):
            if task is not None and not task.done():
                task.cancel()
        await self.launcher.stop_queue(self.settings.jobs.shutdown_grace_s)
        await self.alerts.stop()
        await self.tracker.stop()
        # results being uploaded get a moment to finish; the rest stays owed and is delivered at the next start
        await self.delivery.stop(self.settings.jobs.shutdown_grace_s)
        await self.presenter.stop()
        await super().close()
