"""Start-up and shut-down of the real process: `python -m bot --config PATH` against the fake Discord and the
Legnext simulator (both served from the test's event loop on 127.0.0.1), plus the logging helpers of bot.__main__."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from bot.__main__ import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_UNREACHABLE,
    OneLineFormatter,
    RedactFilter,
    app_context,
    setup_logging,
)
from bot.config import Settings
from bot.legnext.simulator import running_simulator
from bot.storage.database import Database, DatabaseError
from bot.storage.meta import MetaRepo
from tests.fakediscord import FakeDiscord, run_bot
from tests.harness import FAST_DURATIONS, GUILD, make_settings

ROOT = Path(__file__).resolve().parents[1]
DISCORD_SECRET = "secret-discord-token-XYZ123"
LEGNEXT_SECRET = "secret-legnext-key-ABC987"
SECRETS = (DISCORD_SECRET, LEGNEXT_SECRET)
GLOBAL_PUT = r"/applications/\d+/commands$"
# one event per line: "2026-01-01 12:00:00,123 INFO bot: ..."
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: \S")


# ------------------------------------------------------------------------------------------------ helpers


def toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    tmp_path: Path,
    *,
    api_base: str = "http://127.0.0.1:9/api/v10",
    gateway: str = "ws://127.0.0.1:9/gateway",
    sim_url: str = "http://127.0.0.1:9/api",
    guild_ids: tuple[int, ...] = (GUILD,),
    token: str = DISCORD_SECRET,
    api_key: str = LEGNEXT_SECRET,
    database: Path | None = None,
    name: str = "config.toml",
) -> Path:
    db = database or tmp_path / "bot.sqlite3"  # absolute: the child runs in the repository
    path = tmp_path / name
    path.write_text(
        f"""[discord]
token = {toml_str(token)}
guild_ids = [{", ".join(map(str, guild_ids))}]
api_base_url = {toml_str(api_base)}
gateway_url = {toml_str(gateway)}
guild_ready_timeout_s = 0.1

[legnext]
api_key = {toml_str(api_key)}
base_url = {toml_str(sim_url)}
timeout_s = 5

[storage]
database = {toml_str(str(db))}

[jobs]
poll_min_s = 0.05
poll_max_s = 0.2
status_edit_interval_s = 0
""",
        encoding="utf-8",
    )
    return path


def child_env(**secrets: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "LEGNEXT_API_KEY")}
    env.update(secrets)
    return env


@dataclass
class BotProcess:
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    async def wait_line(self, needle: str, wait_s: float = 10.0) -> str:
        deadline = time.monotonic() + wait_s
        while True:
            for line in self.lines:
                if needle in line:
                    return line
            if self.reader is not None and self.reader.done():
                raise AssertionError(f"bot exited ({self.proc.returncode}) without logging {needle!r}:\n{self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in the bot's log within {wait_s}s:\n{self.stderr}")
            await asyncio.sleep(0.02)

    async def exit_code(self, wait_s: float = 10.0) -> int:
        try:
            rc = await asyncio.wait_for(self.proc.wait(), wait_s)
        except TimeoutError:
            raise AssertionError(f"bot did not exit within {wait_s}s:\n{self.stderr}") from None
        assert self.reader is not None
        await self.reader
        return rc

    async def stop(self, sig: signal.Signals = signal.SIGTERM, wait_s: float = 10.0) -> int:
        self.proc.send_signal(sig)
        return await self.exit_code(wait_s)


@contextlib.asynccontextmanager
async def bot_process(config: Path, env: dict[str, str] | None = None) -> AsyncIterator[BotProcess]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), cwd=ROOT, env=env or child_env(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        limit=2**20,
    )
    bp = BotProcess(proc)
    bp.reader = asyncio.create_task(bp._read())
    try:
        yield bp
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await bp.reader


async def run_to_exit(config: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    async with bot_process(config, env) as bp:
        rc = await bp.exit_code(15)
    return rc, bp.stderr


def assert_one_line_per_event(stderr: str, *, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    lines = stderr.splitlines()
    assert lines, "the bot logged nothing"
    for line in lines:
        assert LOG_LINE.match(line), f"not a one-line log event: {line!r}\n--- stderr ---\n{stderr}"
    for secret in secrets:
        assert secret not in stderr, f"a secret leaked to stderr:\n{stderr}"
    return lines


def errors_in(lines: list[str]) -> list[str]:
    return [line for line in lines if re.search(r" (ERROR|CRITICAL) ", line)]


# ------------------------------------------------------------------------------------------------ 1. start, stop


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
async def test_logs_in_syncs_to_the_guild_and_stops_cleanly_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    async with running_simulator() as sim, FakeDiscord(guild_id=GUILD) as fake:
        config = write_config(tmp_path, api_base=fake.api_base, gateway=fake.gateway_url, sim_url=sim.base_url)
        async with bot_process(config) as bp:
            await bp.wait_line("logged in as")
            assert fake.ready_sent.is_set()
            assert fake.identify_payload is not None and fake.identify_payload["token"] == DISCORD_SECRET
            assert fake.token == DISCORD_SECRET  # GET /users/@me carried it too
            names = {c["name"] for c in fake.registered_commands[GUILD]}
            assert {"imagine", "settings"} <= names
            assert not fake.calls_to("PUT", GLOBAL_PUT), "guild mode must not sync globally"
            started = time.monotonic()
            rc = await bp.stop(sig)
            assert time.monotonic() - started < 10
        assert rc == 0, bp.stderr
        fake.assert_clean()
    lines = assert_one_line_per_event(bp.stderr)
    assert not errors_in(lines), bp.stderr
    assert not [line for line in lines if " WARNING " in line], bp.stderr  # no voice-library warnings either
    assert any(line.endswith(" bot.client: Legnext API key accepted: 100000 points available (credits + bonus points)")
               for line in lines)
    assert any(f"received {sig.name}" in line for line in lines), bp.stderr
    assert lines[-1].endswith(" bot: stopped"), bp.stderr
    # the database was created and migrated where the config said
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.sqlite3")) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1


# ------------------------------------------------------------------------------------------------ 2. env secrets


async def test_environment_secrets_win_over_the_file(tmp_path: Path) -> None:
    env_token, env_key = "env-discord-token-QQQ111", "env-legnext-key-RRR222"
    file_token, file_key = "file-placeholder-token-1", "file-placeholder-key-2"
    # the simulator accepts only the key from the environment
    async with running_simulator(api_key=env_key, durations=dict(FAST_DURATIONS)) as sim, \
            FakeDiscord(guild_id=GUILD) as fake:
        config = write_config(tmp_path, api_base=fake.api_base, gateway=fake.gateway_url, sim_url=sim.base_url,
                              token=file_token, api_key=file_key)
        env = child_env(DISCORD_TOKEN=env_token, LEGNEXT_API_KEY=env_key)
        async with bot_process(config, env) as bp:
            await bp.wait_line("logged in as")
            assert fake.identify_payload is not None and fake.identify_payload["token"] == env_token
            assert fake.token == env_token
            inter = await fake.slash("imagine", options={"prompt": "a lighthouse at dusk"})
            await inter.wait_response()
            await fake.wait_message(lambda m: not m.ephemeral and bool(m.buttons()) and "lighthouse" in m.content,
                                    timeout=15)
            submits = [r for r in sim.requests if r.method == "POST" and r.path.endswith("/diffusion")]
            assert len(submits) == 1 and submits[0].status == 200
            assert {r.headers.get("x-api-key") for r in sim.requests if r.path.startswith("/v1/")} == {env_key}
            rc = await bp.stop()
        assert rc == 0, bp.stderr
        fake.assert_clean()
    lines = assert_one_line_per_event(bp.stderr, secrets=(env_token, env_key, file_token, file_key))
    assert not errors_in(lines), bp.stderr


# ------------------------------------------------------------------------------------------------ 3. global sync


async def test_global_sync_only_when_the_command_set_changed(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with running_simulator() as sim, FakeDiscord(guild_id=GUILD) as fake:
        config = write_config(tmp_path, api_base=fake.api_base, gateway=fake.gateway_url, sim_url=sim.base_url,
                              guild_ids=())

        async def start_and_stop() -> list[str]:
            async with bot_process(config) as bp:
                await bp.wait_line("logged in as")
                assert await bp.stop() == 0, bp.stderr
            lines = assert_one_line_per_event(bp.stderr)
            assert not errors_in(lines), bp.stderr
            return lines

        # first start: a global sync, and its hash is stored
        lines = await start_and_stop()
        assert len(fake.calls_to("PUT", GLOBAL_PUT)) == 1
        assert {"imagine", "settings"} <= {c["name"] for c in fake.registered_commands[None]}
        assert GUILD not in fake.registered_commands
        assert any("synced" in line and "global" in line for line in lines)
        with contextlib.closing(sqlite3.connect(db)) as conn:
            (stored,) = conn.execute("SELECT value FROM meta WHERE key = 'commands_hash'").fetchone()
        assert re.fullmatch(r"[0-9a-f]{64}", stored)

        # second start, same commands, same database (a new process: the hash must not depend on the run)
        lines = await start_and_stop()
        assert len(fake.calls_to("PUT", GLOBAL_PUT)) == 1, "unchanged commands were synced again"
        assert any("unchanged" in line for line in lines)

        # the stored hash no longer matches (as after an upgrade that changed a command): sync again
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("UPDATE meta SET value = 'x' WHERE key = 'commands_hash'")
        await start_and_stop()
        assert len(fake.calls_to("PUT", GLOBAL_PUT)) == 2
        with contextlib.closing(sqlite3.connect(db)) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key = 'commands_hash'").fetchone() == (stored,)
        fake.assert_clean()


async def test_command_hash_is_stable_and_guild_mode_ignores_it(tmp_path: Path) -> None:
    """In-process: the hash is what sync_commands compares, and guild mode syncs every start without it."""
    async with running_simulator() as sim, FakeDiscord(guild_id=GUILD) as fake:
        settings: Settings = make_settings(sim, fake, tmp_path / "bot.sqlite3")
        for _ in range(2):
            async with app_context(settings) as bot, run_bot(bot, fake, token="fake-discord-token-123456"):
                digest = bot.command_hash()
                assert digest == bot.command_hash()
                assert await bot.meta.get("commands_hash") is None
        assert len(fake.calls_to("PUT", rf"/guilds/{GUILD}/commands$")) == 2
        assert not fake.calls_to("PUT", GLOBAL_PUT)
        fake.assert_clean()


# ------------------------------------------------------------------------------------------------ 4. bad configs


def secret_file(extra_discord: str = "", extra: str = "") -> str:
    return (f'[discord]\ntoken = "{DISCORD_SECRET}"\n{extra_discord}\n'
            f'[legnext]\napi_key = "{LEGNEXT_SECRET}"\n{extra}')


BAD_CONFIGS: list[tuple[str, str | bytes | None, list[str]]] = [
    ("missing-file", None, ["{path}"]),
    ("empty-file", "", ["discord.token", "legnext.api_key"]),
    ("unknown-key", secret_file("tokn = 1"), ["discord.tokn: unknown key"]),
    ("unknown-section", secret_file(extra="[discrod]\nguild_ids = [1]\n"), ["discrod: unknown key"]),
    ("wrong-type", secret_file('guild_ids = ["x"]'), ["discord.guild_ids"]),
    ("bad-button-access", secret_file(extra='[jobs]\nbutton_access = "everyone"\n'), ["jobs.button_access"]),
    ("invalid-toml", f'[discord]\ntoken = {DISCORD_SECRET}\n[legnext]\napi_key = "{LEGNEXT_SECRET}"\n',
     ["{path}: not valid TOML"]),
    ("unterminated-string", f'[discord]\ntoken = "{DISCORD_SECRET}\n', ["{path}: not valid TOML"]),
    ("several", secret_file('guild_ids = ["x"]', 'timeout_s = 0\nbase_url = "ftp://x"\n'
                            '[jobs]\nmax_running_per_member = 0\n[storage]\ndatabase = ""\n'),
     ["discord.guild_ids", "legnext.timeout_s", "legnext.base_url", "jobs.max_running_per_member",
      "storage.database"]),
    ("secret-of-the-wrong-type", f'[discord]\ntoken = ["{DISCORD_SECRET}"]\n[legnext]\napi_key = "{LEGNEXT_SECRET}"\n',
     ["discord.token"]),
]


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
async def test_a_bad_config_stops_at_once_with_one_line_per_problem(
    tmp_path: Path, content: str | None, expected: list[str]
) -> None:
    path = tmp_path / "config.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    started = time.monotonic()
    rc, stderr = await run_to_exit(path)
    assert rc == EXIT_CONFIG, stderr
    assert time.monotonic() - started < 10
    lines = stderr.splitlines()
    assert len(lines) == len(expected), stderr
    keys = [key.format(path=path) for key in expected]
    for line in lines:
        assert line.startswith("config error: "), stderr
        assert sum(key in line for key in keys) == 1, f"{line!r} should name one of {keys}"
    for key in keys:
        assert sum(key in line for line in lines) == 1, f"no line (or several) for {key}:\n{stderr}"
    for secret in SECRETS:
        assert secret not in stderr


# ------------------------------------------------------------------------------------------------ 5. refused token


@contextlib.asynccontextmanager
async def refusing_discord() -> AsyncIterator[str]:
    """A stand-in for Discord that answers every REST call with 401 (FakeDiscord accepts any token)."""
    seen: list[str] = []

    async def refuse(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        assert "GET /api/v10/users/@me" in seen


async def test_a_refused_discord_token_exits_nonzero_with_one_clear_line(tmp_path: Path) -> None:
    async with refusing_discord() as url:
        config = write_config(tmp_path, api_base=f"{url}/api/v10", gateway=url.replace("http", "ws") + "/gateway")
        rc, stderr = await run_to_exit(config)
    assert rc not in (0, EXIT_CONFIG), stderr
    lines = assert_one_line_per_event(stderr)
    errors = errors_in(lines)
    assert len(errors) == 1 and "token" in errors[0] and "DISCORD_TOKEN" in errors[0], stderr
    assert "Traceback" not in stderr


# ------------------------------------------------------------------------------------------------ 6. start-up failures


def closed_port() -> int:
    """A local TCP port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def the_error(stderr: str, *secrets: str) -> str:
    """The single ERROR/CRITICAL line of a failed start: the last line, one event per line, no traceback."""
    lines = assert_one_line_per_event(stderr, secrets=SECRETS + secrets)
    errors = errors_in(lines)
    assert len(errors) == 1, f"expected exactly one error line:\n{stderr}"
    assert errors[0] == lines[-1], f"the error line must be the last one:\n{stderr}"
    assert "Traceback" not in stderr, stderr
    return errors[0]


async def make_bot_db(path: Path, padding_kb: int = 0) -> None:
    """A database as the bot leaves it (migrated, WAL checkpointed away), with `padding_kb` of rows in meta."""
    async with Database(path) as db:
        for i in range(padding_kb):
            await MetaRepo(db).set(f"padding-{i}", "x" * 1000)
    assert not path.with_name(path.name + "-wal").exists()


@contextlib.contextmanager
def read_only(folder: Path, file: Path) -> Iterator[None]:
    """chmod 0444 on the file and 0555 on its folder (no -wal/-shm can be made); as root, whom permissions do not
    stop, the two are made immutable as well (chattr +i), or the test is skipped."""
    file.chmod(0o444)
    folder.chmod(0o555)
    immutable: list[Path] = []
    try:
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            for p in (file, folder):
                if chattr is None or subprocess.run([chattr, "+i", str(p)], capture_output=True).returncode:
                    pytest.skip("running as root and chattr +i is not available: nothing is read-only for root")
                immutable.append(p)
        yield
    finally:
        for p in reversed(immutable):
            subprocess.run([str(shutil.which("chattr")), "-i", str(p)], check=False)
        folder.chmod(0o755)
        file.chmod(0o644)


DB_CASES = {
    "garbage": "file is not a database (corrupt or not SQLite)",
    "truncated": "the database file is damaged",
    "read-only": "read-only",
    "a-directory": "the path is a directory, not a file",
    "under-a-file": "is a file, not a folder",
}


@pytest.mark.parametrize("case", list(DB_CASES))
async def test_an_unusable_database_stops_the_start_with_exit_2_and_one_line(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "bot.sqlite3"
    with contextlib.ExitStack() as stack:
        if case == "garbage":
            db.write_bytes(os.urandom(64 * 1024))
        elif case == "truncated":
            await make_bot_db(db, padding_kb=200)
            data = db.read_bytes()
            db.write_bytes(data[: len(data) // 2])
        elif case == "read-only":
            await make_bot_db(db)
            stack.enter_context(read_only(folder, db))
        elif case == "a-directory":
            db.mkdir()
        else:
            (folder / "a-file").write_text("not a folder", encoding="utf-8")
            db = folder / "a-file" / "bot.sqlite3"
        # valid addresses: the database is checked before anything is sent to Discord or to the API
        async with running_simulator() as sim, FakeDiscord(guild_id=GUILD) as fake:
            config = write_config(tmp_path, api_base=fake.api_base, gateway=fake.gateway_url, sim_url=sim.base_url,
                                  database=db)
            started = time.monotonic()
            rc, stderr = await run_to_exit(config)
            elapsed = time.monotonic() - started
            assert not fake.calls and not sim.requests, stderr
    assert rc == EXIT_CONFIG, stderr
    assert elapsed < 10, f"took {elapsed:.1f}s:\n{stderr}"
    line = the_error(stderr)
    assert f"cannot open the database {db}: " in line, line
    assert DB_CASES[case] in line, line


async def test_a_database_that_fails_its_checks_is_closed_again(tmp_path: Path) -> None:
    """In-process: the connection's worker thread must not outlive a failed open (it kept the process alive)."""
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"\x01" * 8192)
    before = set(threading.enumerate())
    db = Database(path)
    with pytest.raises(DatabaseError) as info:
        await db.open()
    assert info.value.path == str(path)
    assert str(info.value) == f"cannot open the database {path}: file is not a database (corrupt or not SQLite)"
    started = [t for t in threading.enumerate() if t not in before]
    for thread in started:
        await asyncio.to_thread(thread.join, 2)
    assert not [t for t in started if t.is_alive()], "the database's worker thread is still running"


async def test_unreachable_discord_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    port = closed_port()
    async with running_simulator() as sim:
        config = write_config(tmp_path, api_base=f"http://127.0.0.1:{port}/api/v10",
                              gateway=f"ws://127.0.0.1:{port}/gateway", sim_url=sim.base_url)
        started = time.monotonic()
        rc, stderr = await run_to_exit(config)
    assert rc == EXIT_UNREACHABLE, stderr
    assert time.monotonic() - started < 15
    line = the_error(stderr)
    assert line.endswith(f" bot: cannot reach Discord at http://127.0.0.1:{port}/api/v10: connection refused"), line


async def test_an_unreachable_gateway_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    port = closed_port()
    async with running_simulator() as sim, FakeDiscord(guild_id=GUILD) as fake:
        config = write_config(tmp_path, api_base=fake.api_base, gateway=f"ws://127.0.0.1:{port}/gateway",
                              sim_url=sim.base_url)
        started = time.monotonic()
        rc, stderr = await run_to_exit(config)
    assert rc == EXIT_UNREACHABLE, stderr
    assert time.monotonic() - started < 15
    line = the_error(stderr)
    assert line.endswith(f" bot: cannot reach Discord at ws://127.0.0.1:{port}/gateway: connection refused"), line


async def test_a_guild_the_bot_is_not_in_stops_the_start_naming_it(tmp_path: Path) -> None:
    other = 999_888_777
    async with running_simulator() as sim, FakeDiscord(guild_id=GUILD) as fake:
        config = write_config(tmp_path, api_base=fake.api_base, gateway=fake.gateway_url, sim_url=sim.base_url,
                              guild_ids=(GUILD, other))
        started = time.monotonic()
        rc, stderr = await run_to_exit(config)
        refused = fake.calls_to("PUT", rf"/guilds/{other}/commands$")
        assert [(c.status, c.code) for c in refused] == [(403, 50001)], stderr
        fake.assert_clean()
    assert rc == EXIT_CONFIG, stderr
    assert time.monotonic() - started < 15
    assert the_error(stderr).endswith(
        f" bot: the bot is not in guild {other} (discord.guild_ids): invite it first, or remove the id")


async def test_refused_command_definitions_stop_the_start_with_discords_text(tmp_path: Path) -> None:
    async with running_simulator() as sim, FakeDiscord(guild_id=GUILD) as fake:
        fake.inject_fault("PUT", rf"/guilds/{GUILD}/commands$", status=400, code=50035, message="Invalid Form Body")
        config = write_config(tmp_path, api_base=fake.api_base, gateway=fake.gateway_url, sim_url=sim.base_url)
        rc, stderr = await run_to_exit(config)
    assert rc == EXIT_FAILURE, stderr
    line = the_error(stderr)
    assert line.endswith(" bot: Discord refused the slash commands: Invalid Form Body (HTTP 400, code 50035)"), line


async def test_a_refused_legnext_key_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    right_key = "the-right-legnext-key-777"
    async with running_simulator(api_key=right_key) as sim, FakeDiscord(guild_id=GUILD) as fake:
        config = write_config(tmp_path, api_base=fake.api_base, gateway=fake.gateway_url, sim_url=sim.base_url)
        started = time.monotonic()
        rc, stderr = await run_to_exit(config)
        assert [(r.method, r.path, r.status) for r in sim.requests] == [("GET", "/account/balance", 401)]
        assert GUILD not in fake.registered_commands, "the key is checked before the commands are synced"
    assert rc == EXIT_CONFIG, stderr
    assert time.monotonic() - started < 15
    line = the_error(stderr, right_key)
    assert line.endswith(" bot: Legnext refused the API key (legnext.api_key / LEGNEXT_API_KEY)"), line


async def test_an_unreachable_legnext_api_only_warns_and_the_bot_starts(tmp_path: Path) -> None:
    port = closed_port()
    async with FakeDiscord(guild_id=GUILD) as fake:
        config = write_config(tmp_path, api_base=fake.api_base, gateway=fake.gateway_url,
                              sim_url=f"http://127.0.0.1:{port}/api")
        started = time.monotonic()
        async with bot_process(config) as bp:
            await bp.wait_line("logged in as")
            assert time.monotonic() - started < 10, "the key check must not hold the start up"
            assert {"imagine", "settings"} <= {c["name"] for c in fake.registered_commands[GUILD]}
            assert await bp.stop() == 0, bp.stderr
        fake.assert_clean()
    lines = assert_one_line_per_event(bp.stderr)
    assert not errors_in(lines), bp.stderr
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) == 1, bp.stderr
    assert f" bot.client: could not check the Legnext API key at http://127.0.0.1:{port}/api (" in warnings[0]
    assert "starting anyway" in warnings[0]


# ------------------------------------------------------------------------------------------------ 7. logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "discord")}
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def capture(secrets: tuple[str, ...] = SECRETS) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter(secrets))
    logger = logging.getLogger(f"test.startup.capture.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_redact_filter_hides_secrets_in_messages_and_arguments() -> None:
    logger, stream = capture()
    logger.info("token is %s and key is %r", DISCORD_SECRET, LEGNEXT_SECRET)
    logger.warning(f"inline {DISCORD_SECRET}/{LEGNEXT_SECRET}")  # noqa: G004  (the accident under test)
    logger.info("headers: %s", {"Authorization": f"Bot {DISCORD_SECRET}", "x-api-key": LEGNEXT_SECRET})
    logger.info("nothing to hide %d", 5)
    out = stream.getvalue()
    assert DISCORD_SECRET not in out and LEGNEXT_SECRET not in out
    assert "token is *** and key is '***'" in out
    assert "inline ***/***" in out and "'Bot ***'" in out and "nothing to hide 5" in out


def test_redact_filter_hides_secrets_in_tracebacks() -> None:
    logger, stream = capture()
    try:
        raise RuntimeError(f"login failed for {DISCORD_SECRET}")
    except RuntimeError:
        logger.exception("could not start")
    logger.error("with a stack", stack_info=True, extra={"secret": LEGNEXT_SECRET})
    out = stream.getvalue()
    assert "could not start" in out and "RuntimeError: login failed for ***" in out
    assert DISCORD_SECRET not in out and LEGNEXT_SECRET not in out


def test_redact_filter_ignores_short_and_empty_secrets() -> None:
    logger, stream = capture(("", "abc"))
    logger.info("abc and more")
    assert "abc and more" in stream.getvalue()


def test_one_line_formatter_folds_a_traceback() -> None:
    logger, stream = capture()
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        logger.exception("failed:\r\nwhile doing things")
    out = stream.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")
    assert "\r" not in out
    line = out.rstrip("\n")
    assert line.startswith("ERROR test.startup.capture.")
    assert "failed: | while doing things" in line and "Traceback (most recent call last):" in line
    assert "ValueError: first line | second line" in line


def test_setup_logging_redacts_and_writes_one_line_to_stderr(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("INFO", secrets=SECRETS)
    assert logging.getLogger("httpx").level == logging.WARNING
    log = logging.getLogger("test.startup.setup")  # not under "bot": conftest fails tests on its ERRORs
    log.debug("hidden at INFO")
    try:
        raise OSError(f"cannot connect with {LEGNEXT_SECRET}")
    except OSError:
        log.exception("request with key %s failed", LEGNEXT_SECRET)
    out = stream.getvalue()
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert LOG_LINE.match(lines[0]) and " ERROR test.startup.setup: request with key *** failed" in lines[0]
    assert "OSError: cannot connect with ***" in lines[0]
    assert LEGNEXT_SECRET not in out and "hidden at INFO" not in out
