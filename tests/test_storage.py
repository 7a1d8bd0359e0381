"""bot.storage (`Database`, `migrations()`, `JobRepo`, `SettingsRepo`, `MetaRepo`) against a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import types
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import pytest

import bot.storage.database
from bot.storage.database import Database, migrations
from bot.storage.jobs import FINISHED, UNFINISHED, DuplicateJob, JobRepo
from bot.storage.members import SettingsRepo
from bot.storage.meta import MetaRepo


def migration_files() -> list[str]:
    return sorted(e.name for e in resources.files("bot.storage.migrations").iterdir() if e.name.endswith(".sql"))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database(tmp_path / "bot.sqlite3") as database:
        yield database


# ------------------------------------------------------------------------------------------------ Database


async def test_open_creates_the_file_applies_every_migration_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "bot.sqlite3"  # the parent folders are created too
    async with Database(path) as database:
        assert path.exists()
        row = await database.fetchone("PRAGMA user_version")
        assert row is not None and row[0] == len(migration_files()) == len(migrations()) >= 1
        row = await database.fetchone("PRAGMA journal_mode")
        assert row is not None and row[0] == "wal"
        tables = {r["name"] for r in await database.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"jobs", "meta", "member_settings"} <= tables
    # closed: the connection is gone
    with pytest.raises(RuntimeError, match="not open"):
        _ = database.conn


async def test_reopening_does_not_reapply_migrations(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bot.sqlite3"
    with caplog.at_level(logging.INFO, logger="bot.storage.database"):
        async with Database(path) as database:
            await MetaRepo(database).set("k", "v")
        first = [r.getMessage() for r in caplog.records if "migration" in r.getMessage()]
        assert first == [f"applying migration {name}" for name in migration_files()]
        caplog.clear()
        async with Database(path) as database:
            assert await database.migrate() == len(migration_files())
            assert await MetaRepo(database).get("k") == "v"  # a re-applied CREATE TABLE would have failed or wiped it
        assert not [r for r in caplog.records if "migration" in r.getMessage()]


def _fake_migration_dir(monkeypatch: pytest.MonkeyPatch, folder: Path, names: list[str]) -> None:
    folder.mkdir()
    for i, name in enumerate(names):
        (folder / name).write_text(f"CREATE TABLE t{i} (x INTEGER);\n", encoding="utf-8")
    monkeypatch.setattr(bot.storage.database, "resources", types.SimpleNamespace(files=lambda _pkg: folder))


def test_migrations_are_listed_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_migration_dir(monkeypatch, tmp_path / "m", ["002_b.sql", "001_a.sql", "003_c.sql", "README.md"])
    assert [(v, n) for v, n, _ in migrations()] == [(1, "001_a.sql"), (2, "002_b.sql"), (3, "003_c.sql")]


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["001_a.sql", "003_c.sql"], id="gap"),
        pytest.param(["002_b.sql"], id="does-not-start-at-1"),
        pytest.param(["001_a.sql", "001_b.sql"], id="duplicate-number"),
    ],
)
def test_migrations_refuse_a_broken_sequence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, names: list[str]
) -> None:
    _fake_migration_dir(monkeypatch, tmp_path / "m", names)
    with pytest.raises(RuntimeError, match="out of sequence"):
        migrations()


async def test_a_new_migration_is_applied_on_the_next_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with Database(path):
        pass
    real = migrations()
    extra = (len(real) + 1, f"{len(real) + 1:03d}_extra.sql", "CREATE TABLE extra (x INTEGER);")
    monkeypatch.setattr(bot.storage.database, "migrations", lambda: [*real, extra])
    async with Database(path) as database:
        row = await database.fetchone("PRAGMA user_version")
        assert row is not None and row[0] == len(real) + 1
        await database.execute("INSERT INTO extra(x) VALUES (1)")


# ------------------------------------------------------------------------------------------------ JobRepo


async def test_create_records_submitting_and_every_field_round_trips(db: Database) -> None:
    repo = JobRepo(db)
    request = {"jobId": "parent-1", "imageNo": 2, "nested": {"a": [1, 2, "ü"]}}
    extra = {"model": "v7", "available_actions": ["upscale", "variation"]}
    job = await repo.create(
        task_type="upscale", action="upscale", requester_id=444, prompt="a **cat** <@555>", request=request,
        extra=extra, parent_job_id="parent-1", image_no=2, guild_id=111, channel_id=222, reply_to_id=999,
        dedupe_key="upscale:parent-1:2:0",
    )
    assert job.status == "submitting" and not job.finished
    assert (job.task_type, job.action, job.requester_id, job.prompt) == ("upscale", "upscale", 444, "a **cat** <@555>")
    assert (job.parent_job_id, job.image_no, job.guild_id, job.channel_id, job.reply_to_id) == (
        "parent-1", 2, 111, 222, 999)
    assert job.request == request and job.extra == extra and job.output is None
    assert job.dedupe_key == "upscale:parent-1:2:0" and job.job_id is None and job.message_id is None
    assert job.created_at == job.updated_at > 0

    output = {"image_urls": ["https://x/1.png"], "seed": 7}
    updated = await repo.update(
        job.id, job_id="api-1", status="completed", output=output, message_id=333, consumed_points=20,
        frozen_points=20, finished_at=123.5, shown_status="completed", extra={"model": "v8"},
    )
    assert updated.job_id == "api-1" and updated.status == "completed" and updated.finished
    assert updated.output == output and updated.extra == {"model": "v8"} and updated.message_id == 333
    assert updated.points == 20 and updated.finished_at == 123.5 and updated.updated_at >= job.updated_at
    assert await repo.get(job.id) == updated
    assert await repo.by_job_id("api-1") == updated
    assert await repo.by_message(333) == updated
    assert await repo.by_dedupe_key("upscale:parent-1:2:0") == updated
    assert await repo.get(job.id + 100) is None and await repo.by_job_id("nope") is None

    cleared = await repo.update(job.id, output=None)
    assert cleared.output is None


async def test_create_defaults(db: Database) -> None:
    job = await JobRepo(db).create(task_type="diffusion", action="imagine", requester_id=1)
    assert job.request == {} and job.extra == {} and job.prompt == "" and job.dedupe_key is None
    assert job.guild_id is None and job.frozen_points == 0 and job.points == 0


async def test_update_rejects_unknown_columns(db: Database) -> None:
    repo = JobRepo(db)
    job = await repo.create(task_type="diffusion", action="imagine", requester_id=1)
    for bad in ({"requester_id": 2}, {"id": 5}, {"status": "failed", "created_at": 0.0}, {"x; DROP TABLE jobs": 1}):
        with pytest.raises(ValueError, match="cannot update"):
            await repo.update(job.id, **bad)
    assert await repo.get(job.id) == job  # nothing was written
    with pytest.raises(KeyError):
        await repo.update(job.id + 1, status="failed")


async def test_duplicate_job_while_live_not_once_failed(db: Database) -> None:
    repo = JobRepo(db)
    key = "variation:G:0:1"
    first = await repo.create(task_type="variation", action="variation", requester_id=1, dedupe_key=key)
    with pytest.raises(DuplicateJob) as caught:
        await repo.create(task_type="variation", action="variation", requester_id=2, dedupe_key=key)
    assert caught.value.existing == first
    # a different key or no key is not a duplicate
    await repo.create(task_type="variation", action="variation", requester_id=1, dedupe_key="variation:G:1:1")
    await repo.create(task_type="variation", action="variation", requester_id=1)
    # a completed job still blocks the same button (one press, one job)
    await repo.update(first.id, status="completed")
    with pytest.raises(DuplicateJob):
        await repo.create(task_type="variation", action="variation", requester_id=1, dedupe_key=key)
    # once it failed, the button may be pressed again
    await repo.update(first.id, status="failed")
    again = await repo.create(task_type="variation", action="variation", requester_id=1, dedupe_key=key)
    assert again.id != first.id and again.status == "submitting"
    assert await repo.by_dedupe_key(key) == again
    with pytest.raises(DuplicateJob):
        await repo.create(task_type="variation", action="variation", requester_id=1, dedupe_key=key)


async def test_concurrent_creates_with_the_same_key_start_one_job(db: Database) -> None:
    repo = JobRepo(db)
    results = await asyncio.gather(
        *(repo.create(task_type="upscale", action="upscale", requester_id=i, dedupe_key="same") for i in range(5)),
        return_exceptions=True,
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(created) == 1 and len(refused) == 4
    assert all(isinstance(r, DuplicateJob) for r in refused)
    rows = await db.fetchall("SELECT id FROM jobs WHERE dedupe_key = 'same'")
    assert len(rows) == 1


async def test_unfinished_and_running_count(db: Database) -> None:
    repo = JobRepo(db)
    assert set(UNFINISHED) == {"queued", "submitting", "pending", "staged", "processing"}
    ids: dict[str, int] = {}
    for status in (*UNFINISHED, *FINISHED):
        job = await repo.create(task_type="diffusion", action="imagine", requester_id=7, prompt=status)
        await repo.update(job.id, status=status)
        ids[status] = job.id
    other = await repo.create(task_type="diffusion", action="imagine", requester_id=8)  # submitting
    unfinished = await repo.unfinished()
    # the tracker's: sent (or being sent) to the API; queued ones are the queue's
    assert [j.id for j in unfinished] == [*(ids[s] for s in UNFINISHED if s != "queued"), other.id]
    assert [j.id for j in await repo.queued()] == [ids["queued"]]
    assert all(not j.finished for j in unfinished)
    assert await repo.unfinished_count(7, None) == len(UNFINISHED)
    assert await repo.unfinished_count(8, None) == 1
    assert await repo.unfinished_count(9, None) == 0
    assert len(await repo.all()) == len(UNFINISHED) + len(FINISHED) + 1


async def test_upscale_message_finds_the_message_of_an_upscale(db: Database) -> None:
    repo = JobRepo(db)
    job = await repo.create(task_type="upscale", action="upscale", requester_id=1, parent_job_id="G", image_no=1)
    assert await repo.upscale_message("G", 1) is None  # no message yet
    await repo.update(job.id, message_id=42)
    assert await repo.upscale_message("G", 1) == 42
    assert await repo.upscale_message("G", 2) is None


# ------------------------------------------------------------------------------------------------ SettingsRepo


async def test_settings_get_set_update(db: Database) -> None:
    repo = SettingsRepo(db)
    assert await repo.get(444) == {}
    await repo.set(444, {"mode": "fast", "remix": False})
    assert await repo.get(444) == {"mode": "fast", "remix": False}
    assert await repo.get(555) == {}
    assert await repo.update(444, remix=True, variation="low") == {"mode": "fast", "remix": True, "variation": "low"}
    assert await repo.update(444, mode=None) == {"remix": True, "variation": "low"}  # None removes the key
    assert await repo.get(444) == {"remix": True, "variation": "low"}
    assert await repo.update(555, suffix="--v 7") == {"suffix": "--v 7"}
    await repo.set(444, {})
    assert await repo.get(444) == {}


# ------------------------------------------------------------------------------------------------ durability


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with Database(path) as database:
        jobs = JobRepo(database)
        job = await jobs.create(task_type="diffusion", action="imagine", requester_id=3, prompt="kept",
                                request={"text": "kept"}, dedupe_key="k")
        job = await jobs.update(job.id, job_id="api-9", status="processing")
        await SettingsRepo(database).set(3, {"remix": True})
        await MetaRepo(database).set("commands_hash", "abc")
    # another process (a plain sqlite3 connection) sees the committed rows
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT job_id, status FROM jobs").fetchall() == [("api-9", "processing")]
    async with Database(path) as database:
        jobs = JobRepo(database)
        assert await jobs.get(job.id) == job
        assert [j.id for j in await jobs.unfinished()] == [job.id]
        assert await SettingsRepo(database).get(3) == {"remix": True}
        assert await MetaRepo(database).get("commands_hash") == "abc"
        assert await MetaRepo(database).get("missing") is None
        await MetaRepo(database).set("commands_hash", "def")  # upsert
        assert await MetaRepo(database).get("commands_hash") == "def"
        with pytest.raises(DuplicateJob):
            await jobs.create(task_type="diffusion", action="imagine", requester_id=3, dedupe_key="k")
