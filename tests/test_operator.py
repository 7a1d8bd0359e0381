"""The operator's side (issue 13): `mjbot --simulator` end to end, `mjbot backup` while the bot writes,
`mjbot health`, `--version`, `--log-format json`, and the Docker files (parsed: no Docker daemon here)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import setup_logging
from bot.storage.database import Database
from bot.storage.jobs import JobRepo
from bot.storage.meta import MetaRepo
from bot.storage.tools import HEARTBEAT_KEY, ToolError, backup, check_health
from tests.fakediscord import FakeDiscord, FakeMessage
from tests.harness import GUILD

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "operator-test-token-7777"


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "LEGNEXT_API_KEY")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=child_env(), capture_output=True,
                          text=True, timeout=30)


def discord_only_config(path: Path, fake: FakeDiscord) -> Path:
    """The README's first run: a Discord token and a server, nothing about Legnext or storage."""
    path.write_text(
        f"""[discord]
token = "{TOKEN}"
guild_ids = [{GUILD}]
api_base_url = "{fake.api_base}"
gateway_url = "{fake.gateway_url}"
""",
        encoding="utf-8",
    )
    return path


def is_result(m: FakeMessage) -> bool:
    return not m.ephemeral and bool(m.buttons()) and bool(m.attachments)


def footer_of(m: FakeMessage) -> str:
    return " ".join(str((e.get("footer") or {}).get("text", "")) for e in m.embeds)


# ------------------------------------------------------------------------------------------------ 1. try it for free


@pytest.mark.timeout(150)
async def test_simulator_mode_runs_imagine_and_upscale_with_only_a_discord_token(tmp_path: Path) -> None:
    """`python -m bot --simulator --config <only [discord]>`: the embedded simulator at its default speed (5x)."""
    async with FakeDiscord(guild_id=GUILD) as fake:
        config = discord_only_config(tmp_path / "config.toml", fake)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--simulator", "--config", str(config), cwd=tmp_path, env=child_env(),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            limit=2**20,
        )
        lines: list[str] = []

        async def read() -> None:
            assert proc.stderr is not None
            while line := await proc.stderr.readline():
                lines.append(line.decode("utf-8", "replace").rstrip("\n"))

        reader = asyncio.create_task(read())

        async def logged(needle: str) -> bool:
            if proc.returncode is not None or reader.done():
                raise AssertionError(f"bot exited ({proc.returncode}):\n" + "\n".join(lines))
            return any(needle in line for line in lines)

        try:
            await fake.wait_for(lambda: logged("logged in as"), timeout=30)
            assert GUILD in fake.registered_commands
            first = lines[0]
            assert f"bot: mjbot {metadata.version('mjbot')} starting" in first, lines
            sim_line = next(line for line in lines if "results are simulated" in line)
            assert re.search(r"embedded simulator at http://127\.0\.0\.1:\d+/api \(jobs run 5x faster", sim_line)

            # the health check sees the database and the heartbeat (written once connected)
            async def healthy() -> bool:
                done = await asyncio.to_thread(run_cli, "health", "--config", str(config), cwd=tmp_path)
                return done.returncode == 0 and done.stdout.startswith("ok: ")
            await fake.wait_for(healthy, timeout=15)

            inter = await fake.slash("imagine", options={"prompt": "a lighthouse at dusk --ar 3:2"})
            await inter.wait_response()
            grid = await fake.wait_message(lambda m: is_result(m) and "lighthouse" in m.content, timeout=40)
            assert "simulated" in footer_of(grid), grid.embeds
            assert {"U1", "V1"} <= set(grid.labels())

            click = await fake.click(grid.id, "U1")
            await click.wait_response()
            upscale = await fake.wait_message(
                lambda m: is_result(m) and m.message_reference is not None
                and str(m.message_reference.get("message_id")) == str(grid.id), timeout=40)
            assert "Image #1" in upscale.content
            assert "simulated" in footer_of(upscale), upscale.embeds

            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 15) == 0, "\n".join(lines)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await reader
        fake.assert_clean()
    log = "\n".join(lines)
    assert TOKEN not in log
    assert not [line for line in lines if " ERROR " in line or " CRITICAL " in line], log
    assert (tmp_path / "mjbot.sqlite3").exists(), "the default database lives in the working directory"
    with contextlib.closing(sqlite3.connect(tmp_path / "mjbot.sqlite3")) as conn:
        rows = conn.execute("SELECT action, status, extra_json FROM jobs ORDER BY id").fetchall()
    assert len(rows) == 2 and rows[0][0] == "imagine" and all(s == "completed" for _, s, _ in rows), rows
    assert all(json.loads(extra).get("simulated") is True for _, _, extra in rows)


def test_simulator_needs_the_discord_token_still(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[discord]\nguild_ids = [1]\n", encoding="utf-8")
    done = run_cli("--simulator", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "config error: discord.token: missing: set it in the file or in the DISCORD_TOKEN environment variable"]


def test_version_comes_from_the_package_metadata() -> None:
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"mjbot {metadata.version('mjbot')}"


# ------------------------------------------------------------------------------------------------ 2. backup


async def write_jobs(repo: JobRepo, stop: asyncio.Event, written: list[int]) -> None:
    i = 0
    while not stop.is_set():
        job = await repo.create(task_type="diffusion", action="imagine", requester_id=1 + i % 7,
                                prompt=f"prompt {i} " + "x" * 200, extra={"model": "7"})
        written.append(job.id)
        i += 1
        await asyncio.sleep(0)


def open_backup(path: Path) -> tuple[str, int, str]:
    """(integrity check, jobs, journal mode) of a backup, which is one file: no -wal beside it."""
    assert not path.with_name(path.name + "-wal").exists()
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        count = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    return check, count, mode


async def test_backup_while_the_bot_writes_holds_the_jobs(tmp_path: Path) -> None:
    live = tmp_path / "data" / "mjbot.sqlite3"
    async with Database(live) as db:
        repo = JobRepo(db)
        stop, written = asyncio.Event(), []
        writer = asyncio.create_task(write_jobs(repo, stop, written))
        try:
            await asyncio.sleep(0.2)
            for n in range(3):
                before = len(written)
                assert before > 0
                result = await asyncio.to_thread(backup, live, tmp_path / f"backup-{n}.sqlite3")
                after = len(written)
                check, count, mode = open_backup(result.path)
                assert check == "ok" and mode == "delete"
                assert before <= count <= after and result.jobs == count
                await asyncio.sleep(0.05)
            # the command line, while the writes go on
            config = tmp_path / "config.toml"
            config.write_text(f'[storage]\ndatabase = "{live}"\n', encoding="utf-8")
            before = len(written)
            done = await asyncio.to_thread(run_cli, "backup", str(tmp_path / "cli.sqlite3"), "--config", str(config))
            after = len(written)
            assert done.returncode == 0, done.stderr
            assert re.fullmatch(rf"backed up {re.escape(str(live))} to {re.escape(str(tmp_path / 'cli.sqlite3'))} "
                                r"\(\d+ jobs, \d+ KiB\)\n", done.stdout), done.stdout
            check, count, _ = open_backup(tmp_path / "cli.sqlite3")
            assert check == "ok" and before <= count <= after
        finally:
            stop.set()
            await writer
    assert len(written) > 20
    # a backup is a database the bot opens as it is (restore = copy it over the stopped bot's file)
    restored = tmp_path / "restored.sqlite3"
    restored.write_bytes((tmp_path / "backup-2.sqlite3").read_bytes())
    async with Database(restored) as db:
        assert (await JobRepo(db).get(written[0])) is not None


async def test_backup_into_a_folder_makes_a_dated_file(tmp_path: Path) -> None:
    live = tmp_path / "mjbot.sqlite3"
    async with Database(live):
        pass
    folder = tmp_path / "backups"
    folder.mkdir()
    result = backup(live, folder)
    assert result.path.parent == folder and re.fullmatch(r"mjbot-\d{8}-\d{6}\.sqlite3", result.path.name)
    assert open_backup(result.path)[0] == "ok"
    assert [p.name for p in folder.iterdir()] == [result.path.name], "no partial file left behind"


async def test_backup_refuses_to_overwrite_the_live_database(tmp_path: Path) -> None:
    live = tmp_path / "mjbot.sqlite3"
    async with Database(live) as db:
        await MetaRepo(db).set("k", "v")
        size = live.stat().st_size
        for dest in (live, tmp_path / "." / "mjbot.sqlite3", tmp_path / "mjbot.sqlite3-wal"):
            with pytest.raises(ToolError, match="refusing to overwrite the live database"):
                backup(live, dest)
        link = tmp_path / "link.sqlite3"
        link.symlink_to(live)
        with pytest.raises(ToolError, match="refusing to overwrite the live database"):
            backup(live, link)
        assert await MetaRepo(db).get("k") == "v"
    assert live.stat().st_size >= size
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{live}"\n', encoding="utf-8")
    done = run_cli("backup", str(live), "--config", str(config))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"backup failed: refusing to overwrite the live database {live}: give the backup another " \
                          "path\n"


def test_backup_of_a_missing_database_says_so(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no database at"):
        backup(tmp_path / "none.sqlite3", tmp_path / "b.sqlite3")
    assert not (tmp_path / "none.sqlite3").exists(), "the tools never create a database"


# ------------------------------------------------------------------------------------------------ 3. health


async def test_health_reads_the_heartbeat_and_writes(tmp_path: Path) -> None:
    live = tmp_path / "mjbot.sqlite3"
    missing = check_health(tmp_path / "none.sqlite3")
    assert not missing.ok and missing.line.startswith("unhealthy: no database at")
    async with Database(live) as db:
        meta = MetaRepo(db)
        fresh = check_health(live)
        assert not fresh.ok and "no heartbeat yet" in fresh.line
        await meta.set(HEARTBEAT_KEY, f"{time.time() - 10:.0f}")
        ok = await asyncio.to_thread(check_health, live)  # while the bot's connection is open
        assert ok.ok and ok.line.startswith(f"ok: database {live} is writable, heartbeat ")
        assert await meta.get("health_checked_at") is not None
        await meta.set(HEARTBEAT_KEY, f"{time.time() - 600:.0f}")
        stale = check_health(live)
        assert not stale.ok and "last heartbeat was 600s ago" in stale.line
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndatabase = "{live}"\n', encoding="utf-8")
    done = run_cli("health", "--config", str(config))
    assert done.returncode == 1 and done.stdout.count("\n") == 1 and done.stdout.startswith("unhealthy: ")
    done = run_cli("health", "--config", str(config), "--max-age", "100000")
    assert done.returncode == 0 and done.stdout.startswith("ok: ")
    # a broken config: exit 1 too (a health check has two answers), with the problem
    config.write_text("storage = 5\n", encoding="utf-8")
    done = run_cli("health", "--config", str(config))
    assert done.returncode == 1 and "storage: must be a table (section), not a number" in done.stderr


def test_health_of_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "mjbot.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    result = check_health(bad)
    assert not result.ok and result.line.startswith(f"unhealthy: the database {bad} cannot be used")


# ------------------------------------------------------------------------------------------------ 4. json logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "discord", "aiohttp.access")}
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_json_log_format_is_one_object_per_line_and_redacted(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "json-secret-token-555"
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("INFO", secrets=(secret,), fmt="json")
    log = logging.getLogger("test.operator.json")
    log.info("hello %s with \"quotes\"\nand a newline", secret)
    try:
        raise ValueError(f"boom {secret}")
    except ValueError:
        log.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, stream.getvalue()
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "test.operator.json"
    assert first["message"] == 'hello *** with "quotes"\nand a newline'
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second["level"] == "ERROR" and "ValueError: boom ***" in second["exc"]
    assert secret not in stream.getvalue()


def test_json_logs_from_the_process(tmp_path: Path) -> None:
    """A bad config still prints plain `config error:` lines; a start that fails later logs JSON objects."""
    config = tmp_path / "config.toml"
    config.write_text(f'[discord]\ntoken = "{TOKEN}"\napi_base_url = "http://127.0.0.1:9/api/v10"\n'
                      f'gateway_url = "ws://127.0.0.1:9/gateway"\n[storage]\ndatabase = "{tmp_path / "db"}"\n',
                      encoding="utf-8")
    done = run_cli("--simulator", "--log-format", "json", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert records[0]["message"].startswith("mjbot ") and records[-1]["level"] == "ERROR"
    assert records[-1]["message"] == "cannot reach Discord at http://127.0.0.1:9/api/v10: connection refused"
    assert TOKEN not in done.stderr


# ------------------------------------------------------------------------------------------------ 5. Docker


def parse_yaml(text: str) -> Any:
    """The subset of YAML compose.yaml is written in: block mappings, block sequences of scalars, comments,
    quoted or plain scalars. Enough to check it without a YAML dependency."""
    rows: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = re.sub(r"\s+#.*$", "", raw) if not raw.lstrip().startswith("#") else ""
        if line.strip():
            assert "\t" not in line, f"tabs in YAML: {raw!r}"
            rows.append((len(line) - len(line.lstrip(" ")), line.strip()))

    def scalar(s: str) -> str:
        s = s.strip()
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
            return s[1:-1]
        return s

    def block(i: int, indent: int) -> tuple[Any, int]:
        if rows[i][1].startswith("- "):
            items: list[str] = []
            while i < len(rows) and rows[i][0] == indent and rows[i][1].startswith("- "):
                items.append(scalar(rows[i][1][2:]))
                i += 1
            return items, i
        mapping: dict[str, Any] = {}
        while i < len(rows) and rows[i][0] == indent:
            key, sep, rest = rows[i][1].partition(":")
            assert sep, f"not a mapping entry: {rows[i][1]!r}"
            i += 1
            if rest.strip():
                mapping[scalar(key)] = scalar(rest)
            elif i < len(rows) and (rows[i][0] > indent or (rows[i][0] == indent and rows[i][1].startswith("- "))):
                mapping[scalar(key)], i = block(i, rows[i][0])
            else:
                mapping[scalar(key)] = None
        return mapping, i

    value, end = block(0, rows[0][0])
    assert end == len(rows), f"could not parse compose.yaml past: {rows[end]}"
    return value


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def compose() -> dict[str, Any]:
    data = parse_yaml((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_yaml_subset_parser() -> None:
    assert parse_yaml("a:\n  b: 1 # c\n  l:\n    - x\n    - 'y: z'\nn:\nm: \"q\"\n") == {
        "a": {"b": "1", "l": ["x", "y: z"]}, "n": None, "m": "q"}
    assert parse_yaml("a:\n- x\n- y\n") == {"a": ["x", "y"]}


def test_dockerfile_pins_the_base_image_and_checks_health() -> None:
    instructions = dockerfile_instructions()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?( AS \w+)?", f)
                         for f in froms), froms
    (entry,) = [json.loads(rest) for word, rest in instructions if word == "ENTRYPOINT"]
    config_path = entry[entry.index("--config") + 1]
    (health,) = [rest for word, rest in instructions if word == "HEALTHCHECK"]
    options, _, cmd = health.partition(" CMD ")
    assert re.search(r"--interval=\d+s", options) and re.search(r"--start-period=\d+s", options)
    assert json.loads(cmd) == ["mjbot", "health", "--config", config_path]
    assert ("USER", "mjbot") in instructions, "the image runs as a non-root user"
    assert any(word == "WORKDIR" and rest == "/data" for word, rest in instructions), \
        "the default database (relative) lands on the /data volume"


def test_dockerignore_keeps_secrets_databases_and_venvs_out_of_the_image() -> None:
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")}
    required = {".git", ".venv", ".ci-venv", "config.toml", ".env", "*.sqlite3", "*.sqlite3-*", "**/__pycache__",
                ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}
    assert required <= patterns, required - patterns
    # what the build needs is not ignored
    copied = {rest.split()[0] for word, rest in dockerfile_instructions() if word == "COPY"}
    for name in copied | {"pyproject.toml", "README.md", "bot", "cogs"}:
        assert name not in patterns and f"/{name}" not in patterns, name
    assert "!.env.example" in patterns or ".env*" not in patterns


def test_compose_file_has_a_volume_an_env_file_and_restarts() -> None:
    data = compose()
    services = data["services"]
    assert list(services) == ["mjbot"]
    svc = services["mjbot"]
    assert svc["restart"] == "unless-stopped"
    assert svc["env_file"] in (".env", [".env"])
    assert svc["build"] == "."
    volumes = data["volumes"]
    named = [v for v in svc["volumes"] if v.split(":")[1] == "/data"]
    assert len(named) == 1 and named[0].split(":")[0] in volumes
    (entry,) = [json.loads(rest) for word, rest in dockerfile_instructions() if word == "ENTRYPOINT"]
    config_path = entry[entry.index("--config") + 1]
    config_mount = [v for v in svc["volumes"] if v.split(":")[1] == config_path]
    assert config_mount == [f"./config.toml:{config_path}:ro"]
    # the two secrets come from .env, whose template is committed without values
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assignments = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))
    assert assignments == {"DISCORD_TOKEN": "", "LEGNEXT_API_KEY": ""}
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


def shell_commands(section: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    commands: list[str] = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(" ".join(line.split()))
    return commands


def test_readme_docker_commands_are_the_compose_files() -> None:
    data = compose()
    service = next(iter(data["services"]))
    volume = next(iter(data["volumes"]))
    svc = data["services"][service]
    commands = shell_commands(readme_section("Docker"))
    assert "cp .env.example .env" in commands
    assert "docker compose up -d --build" in commands
    composes = [c for c in commands if c.startswith("docker ")]
    assert all(c.startswith("docker compose ") for c in composes), composes
    (entry,) = [json.loads(rest) for word, rest in dockerfile_instructions() if word == "ENTRYPOINT"]
    config_path = entry[entry.index("--config") + 1]
    data_mount = next(v.split(":")[1] for v in svc["volumes"] if v.split(":")[0] == volume)
    for c in composes:
        words = c.split()
        sub = words[2]
        if sub in ("exec", "run", "logs", "stop", "start", "restart", "cp"):
            targets = [w.split(":")[0] for w in words[3:] if not w.startswith("-")]
            assert service in targets, f"{c!r} does not name the service {service!r} of compose.yaml"
        if " mjbot backup " in f" {c} " or " mjbot health " in f" {c} ":
            assert f"--config {config_path}" in c, c
        for path in re.findall(r"(/\w+)/[\w.-]*\.sqlite3", c):
            assert path == data_mount, f"{c!r}: the database lives on the volume at {data_mount}"
    # the volume the README talks about is compose's
    section = readme_section("Docker")
    assert volume in section and data_mount in section
    assert data["volumes"][volume] == {"name": volume}, "a fixed volume name, the one the README uses"


def test_readme_first_command_is_the_simulator() -> None:
    commands = shell_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    runs = [c for c in commands if "python -m bot" in c or "mjbot " in c or c.endswith("mjbot")]
    assert runs[0].endswith("--simulator") and ("/mjbot --simulator" in runs[0] or "-m bot --simulator" in runs[0])


def test_readme_invite_url_has_the_permission_integer() -> None:
    perms = 1 << 10 | 1 << 11 | 1 << 38 | 1 << 14 | 1 << 15 | 1 << 16
    assert perms == 274878024704
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (f"https://discord.com/oauth2/authorize?client_id=YOUR_APPLICATION_ID&scope=bot+applications.commands"
            f"&permissions={perms}") in text
