"""`python -m bot --config PATH`: start the bot.

Built like discord.py's examples/advanced_startup.py: the HTTP client, the API client, the database and the bot are
made in `run()`, each in its own `async with`, and closed in reverse order. SIGINT and SIGTERM close the bot;
unfinished jobs stay in the database and are picked up on the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import aiohttp
import discord
import httpx
from discord import app_commands
from pydantic import SecretStr

from bot.client import MJBot, apply_discord_endpoints
from bot.config import SIMULATOR_API_KEY, ConfigError, Settings, load_config, load_storage
from bot.legnext.client import LegnextClient
from bot.legnext.simulator import running_simulator
from bot.storage.database import Database, DatabaseError
from bot.storage.tools import HEARTBEAT_STALE_S, ToolError, backup, check_health
from bot.web.server import WebServer

log = logging.getLogger("bot")

EXIT_FAILURE = 1  # an unexpected error, or Discord refused the slash-command definitions
EXIT_CONFIG = 2  # the config, the database or the Legnext key is unusable: fix it before starting again
EXIT_LOGIN = 3  # Discord refused the token or the intents
EXIT_UNREACHABLE = 4  # Discord could not be reached: starting again later may work


class OneLineFormatter(logging.Formatter):
    """One line per event: tracebacks are folded onto the same line."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " | ")


class RedactFilter(logging.Filter):
    """Defence in depth: no secret's value ever leaves in a log line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def _redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if any(s in text for s in self.secrets):
                record.msg, record.args = self._redact(text), None
            # A traceback (`log.exception`, `exc_info=`) can carry a secret too: render it now, redacted.
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self._redact(record.stack_info)
        return True


class ReconnectFilter(logging.Filter):
    """discord.py logs every gateway reconnect at ERROR with the whole traceback; a network failure is expected
    there: make it one WARNING line with the cause."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if (record.name == "discord.client" and str(record.msg).startswith("Attempting a reconnect")
                and isinstance(exc, (*_NETWORK_ERRORS, OSError, discord.ConnectionClosed))):
            record.msg = f"{record.getMessage()} (Discord's gateway: {network_cause(exc)})"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class JsonFormatter(logging.Formatter):
    """`--log-format json`: one JSON object per line (time, level, logger, message; `exc` with a traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False)


LOG_FORMATS = ("text", "json")


def setup_logging(level: str = "INFO", secrets: Iterable[str] = (), fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ReconnectFilter())
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the embedded simulator's request log
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))


@contextlib.asynccontextmanager
async def app_context(settings: Settings, *, simulated: bool = False) -> AsyncIterator[MJBot]:
    """The HTTP client, the API client, the database, the bot and its web server, each in its own `async with`."""
    apply_discord_endpoints(settings.discord)
    # the bot never joins a voice channel: no start-up warnings about missing voice libraries
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    cfg = settings.legnext
    async with httpx.AsyncClient(timeout=cfg.timeout_s, follow_redirects=False) as http:
        async with LegnextClient(
            base_url=cfg.base_url, api_key=cfg.api_key, http=http, timeout_s=cfg.timeout_s,
            read_retries=cfg.read_retries,
            submit_429_retries=0,  # the bot's queue takes a job the API refused with 429 back, and waits
        ) as api:
            async with Database(settings.storage.database) as db:
                async with MJBot(settings, api=api, db=db, http=http, simulated=simulated) as bot:
                    async with WebServer(
                        settings.web, metrics=bot.metrics, jobs=bot.jobs_repo, meta=bot.meta, tracker=bot.tracker,
                        api=api, gateway_ok=bot.gateway_connected, owed=lambda: bot.delivery.waiting,
                        callback_token=lambda: bot.callback_token,
                    ) as web:
                        bot.web = web
                        yield bot


def version() -> str:
    try:
        return metadata.version("mjbot")
    except metadata.PackageNotFoundError:
        return "unknown"


def on_simulator(settings: Settings, base_url: str, time_scale: float) -> Settings:
    """`settings` pointed at the embedded simulator. Its jobs run `time_scale` times faster than the real API's, so
    the polling cadence and the status edits speed up as much: the same requests per job as on the real API."""
    speed = max(1.0, time_scale)
    jobs = settings.jobs
    return settings.model_copy(update={
        "legnext": settings.legnext.model_copy(update={"base_url": base_url, "api_key": SecretStr(SIMULATOR_API_KEY)}),
        "jobs": jobs.model_copy(update={"poll_min_s": jobs.poll_min_s / speed, "poll_max_s": jobs.poll_max_s / speed,
                                        "status_edit_interval_s": jobs.status_edit_interval_s / speed}),
    })


async def run(settings: Settings, *, time_scale: float | None = None) -> int:
    """Run until stopped. A known cause of a failed start is logged as one sentence and becomes the exit code.
    With `time_scale`, the Legnext API is the embedded simulator, serving on a free local port."""
    try:
        if time_scale is None:
            return await _serve(settings)
        async with running_simulator(time_scale=time_scale) as sim:
            log.info("results are simulated: the Legnext API is the embedded simulator at %s (jobs run %gx faster "
                     "than the real API); no credits are spent and no Midjourney image is made", sim.base_url,
                     time_scale)
            return await _serve(on_simulator(settings, sim.base_url, time_scale), simulated=True)
    except DatabaseError as e:
        log.error("%s", e)
        return EXIT_CONFIG
    except ConfigError as e:  # found while starting: a guild the bot is not in, a refused Legnext key
        for problem in e.problems:
            log.error("%s", problem)
        return EXIT_CONFIG
    except app_commands.CommandSyncFailure as e:  # 400, code 50035: a command definition Discord does not accept
        details = _one_line("\n".join(str(e).splitlines()[1:]))  # the first line only repeats status and code
        log.error("Discord refused the slash commands: %s (HTTP %d, code %d)%s", _one_line(e.text) or "invalid",
                  e.status, e.code, f": {details}" if details else "")
        return EXIT_FAILURE
    except discord.DiscordServerError as e:
        log.error("cannot reach Discord at %s: Discord answered HTTP %d (%s)", discord.http.Route.BASE, e.status,
                  _one_line(e.text) or "server error")
        return EXIT_UNREACHABLE
    except discord.HTTPException as e:  # out of login or setup_hook; later ones are handled where they happen
        log.error("Discord refused a request while starting: %s", _one_line(str(e)))
        return EXIT_FAILURE
    except _NETWORK_ERRORS as e:
        log.error("cannot reach Discord at %s: %s", discord.http.Route.BASE, network_cause(e))
        return EXIT_UNREACHABLE


async def _serve(settings: Settings, *, simulated: bool = False) -> int:
    async with app_context(settings, simulated=simulated) as bot:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stop, bot, sig)
        try:
            await bot.login(settings.discord.token.get_secret_value())  # REST, then setup_hook
            await bot.connect()  # the gateway, until closed
        except discord.LoginFailure:
            log.error("Discord refused the bot token (discord.token / DISCORD_TOKEN)")
            return EXIT_LOGIN
        except discord.PrivilegedIntentsRequired:
            log.error("Discord refused the requested intents")
            return EXIT_LOGIN
        except Exception as e:
            # discord.py retries a lost gateway, but a first connection that fails ends in an AttributeError
            # raised while handling the network error: that is an unreachable gateway, not a bug of ours
            cause = network_error(e)
            if cause is None or bot.ws is not None or bot.user is None:
                raise
            log.error("cannot reach Discord at %s: %s", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
                      network_cause(cause))
            return EXIT_UNREACHABLE
    log.info("stopped")
    return 0


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


_ERRNO_CAUSES = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}


_NETWORK_ERRORS = (aiohttp.ClientConnectionError, aiohttp.WSServerHandshakeError, discord.GatewayNotFound, TimeoutError)


def network_error(e: BaseException) -> BaseException | None:
    """The connection failure `e` is, or was raised while handling (`__cause__` / `__context__`), if any."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, _NETWORK_ERRORS):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def network_cause(e: BaseException) -> str:
    """A few plain words for why a connection failed: `connection refused`, `host name not found`, ..."""
    if isinstance(e, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not accepted ({e.certificate_error})"
    if isinstance(e, aiohttp.ClientConnectorDNSError):
        return f"host name not found ({e.host})"
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(e, discord.GatewayNotFound):
        return "no gateway address"
    if isinstance(e, aiohttp.WSServerHandshakeError):
        return f"no websocket there (HTTP {e.status})"
    if isinstance(e, discord.ConnectionClosed):
        return f"the gateway closed the connection (code {e.code})"
    err: BaseException = e.os_error if isinstance(e, aiohttp.ClientConnectorError) else e
    if isinstance(err, socket.gaierror):
        return "host name not found"
    if isinstance(err, ssl.SSLError):
        return f"TLS error ({err.reason or err})"
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, OSError) and err.errno in _ERRNO_CAUSES:
        return _ERRNO_CAUSES[err.errno]
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return _one_line(str(err)) or type(err).__name__


_closing: set[asyncio.Task[None]] = set()


def _stop(bot: discord.Client, sig: signal.Signals) -> None:
    log.info("received %s; shutting down", sig.name)
    task = asyncio.ensure_future(bot.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mjbot", description="Midjourney on Discord through the Legnext API",
        epilog="Exit codes: 0 stopped cleanly; 2 config, database or Legnext key to fix; 3 Discord refused the token; "
               "4 Discord unreachable (try again later); 1 anything else.",
    )
    parser.add_argument("--version", action="version", version=f"mjbot {version()}")
    parser.add_argument("--config", default="config.toml", help="path to the TOML config (default: config.toml)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="least important events logged (default: INFO)")
    parser.add_argument("--log-format", default="text", choices=LOG_FORMATS,
                        help="text: one line per event; json: one JSON object per line (default: text)")
    parser.add_argument("--simulator", action="store_true",
                        help="try it for free: use an embedded Legnext simulator instead of the real API "
                             "(no legnext.api_key needed; results are marked simulated)")
    parser.add_argument("--time-scale", type=float, default=5.0, metavar="N",
                        help="with --simulator: jobs run N times faster than the real API (default: 5)")
    commands = parser.add_subparsers(dest="command", metavar="{health,backup}")
    health = commands.add_parser("health", help="check the database opens, is writable and the bot's heartbeat is "
                                                "recent; exit 0 (healthy) or 1, with one line")
    health.add_argument("--config", default=argparse.SUPPRESS, help="path to the TOML config")
    health.add_argument("--max-age", type=float, default=HEARTBEAT_STALE_S, metavar="SECONDS",
                        help=f"oldest acceptable heartbeat (default: {HEARTBEAT_STALE_S:g})")
    save = commands.add_parser("backup", help="copy the database to PATH, safely while the bot runs")
    save.add_argument("path", metavar="PATH", help="the backup file to write (or a folder to put a dated one in)")
    save.add_argument("--config", default=argparse.SUPPRESS, help="path to the TOML config")
    return parser


def _tool(args: argparse.Namespace) -> int:
    """`mjbot health` and `mjbot backup`: one line on stdout (stderr for an error); they need no secrets."""
    try:
        database = load_storage(args.config).database
    except ConfigError as e:
        for problem in e.problems:
            sys.stderr.write(f"config error: {problem}\n")
        return 1 if args.command == "health" else EXIT_CONFIG
    if args.command == "health":
        result = check_health(database, stale_s=args.max_age)
        print(result.line)
        return 0 if result.ok else 1
    try:
        done = backup(database, Path(args.path))
    except ToolError as e:
        sys.stderr.write(f"backup failed: {e}\n")
        return EXIT_FAILURE
    print(f"backed up {database} to {done.path} ({done.jobs} jobs, {done.size / 1024:.0f} KiB)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is not None:
        return _tool(args)
    if args.time_scale <= 0:
        sys.stderr.write("--time-scale must be a positive number\n")
        return EXIT_CONFIG
    setup_logging(args.log_level, fmt=args.log_format)
    try:
        settings = load_config(args.config, simulator=args.simulator)
    except ConfigError as e:
        for problem in e.problems:
            sys.stderr.write(f"config error: {problem}\n")
        return EXIT_CONFIG
    key = settings.legnext.api_key.get_secret_value()
    setup_logging(
        args.log_level, fmt=args.log_format,
        secrets=(settings.discord.token.get_secret_value(), "" if key == SIMULATOR_API_KEY else key),
    )
    log.info("mjbot %s starting (Python %s, discord.py %s), config %s", version(), sys.version.split()[0],
             discord.__version__, args.config)
    try:
        return asyncio.run(run(settings, time_scale=args.time_scale if args.simulator else None))
    except KeyboardInterrupt:
        return 0
    except Exception as e:  # not foreseen in run(): one line, with the traceback folded onto it
        log.critical("stopped by an unexpected error: %s: %s", type(e).__name__, e, exc_info=e)
        return EXIT_FAILURE


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
