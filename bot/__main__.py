"""`python -m bot --config PATH`: start the bot.

Built like discord.py's examples/advanced_startup.py: the HTTP client, the API client, the database and the bot are
made in `run()`, each in its own `async with`, and closed in reverse order. SIGINT and SIGTERM close the bot;
unfinished jobs stay in the database and are picked up on the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING

import discord
import httpx

from bot.config import ConfigError, Settings, load_config

if TYPE_CHECKING:
    from bot.app import MJBot

log = logging.getLogger("bot")

EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_LOGIN = 3


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


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("discord").setLevel(max(logging.INFO, logging.getLevelName(level)))


@contextlib.asynccontextmanager
async def app_context(settings: Settings) -> AsyncIterator[MJBot]:
    """The HTTP client, the API client, the database and the bot, each in its own `async with`."""
    from bot.app import MJBot, apply_discord_endpoints
    from bot.db import Database
    from bot.legnext.client import LegnextClient

    apply_discord_endpoints(settings.discord)
    cfg = settings.legnext
    async with httpx.AsyncClient(timeout=cfg.timeout_s, follow_redirects=False) as http:
        async with LegnextClient(
            base_url=cfg.base_url, api_key=cfg.api_key, http=http, timeout_s=cfg.timeout_s,
            read_retries=cfg.read_retries,
        ) as api:
            async with Database(settings.storage.database) as db:
                async with MJBot(settings, api=api, db=db, http=http) as bot:
                    yield bot


async def run(settings: Settings) -> int:
    async with app_context(settings) as bot:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stop, bot, sig)
        try:
            await bot.start(settings.discord.token.get_secret_value())
        except discord.LoginFailure:
            log.error("Discord refused the bot token (discord.token / DISCORD_TOKEN)")
            return EXIT_LOGIN
        except discord.PrivilegedIntentsRequired:
            log.error("Discord refused the requested intents")
            return EXIT_LOGIN
    log.info("stopped")
    return 0


_closing: set[asyncio.Task[None]] = set()


def _stop(bot: discord.Client, sig: signal.Signals) -> None:
    log.info("received %s; shutting down", sig.name)
    task = asyncio.ensure_future(bot.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mjbot", description="Midjourney on Discord through the Legnext API")
    parser.add_argument("--config", default="config.toml", help="path to the TOML config (default: config.toml)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        settings = load_config(args.config)
    except ConfigError as e:
        for problem in e.problems:
            sys.stderr.write(f"config error: {problem}\n")
        return EXIT_CONFIG
    setup_logging(
        args.log_level,
        secrets=(settings.discord.token.get_secret_value(), settings.legnext.api_key.get_secret_value()),
    )
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:
        return 0
    except Exception as e:  # e.g. the database cannot be opened, Discord cannot be reached: one line, no traceback
        log.critical("stopped by an unexpected error: %s: %s", type(e).__name__, e, exc_info=e)
        return EXIT_FAILURE


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
