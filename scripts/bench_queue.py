"""Benchmark: what the bot's fair queue costs as it grows. Not a test: it prints figures.

Jobs are launched through the real launcher (budgets reserved in the one INSERT, the queue numbered) against the
Legnext simulator, with `legnext.concurrency = 1` and one long job running, so every other job waits in the queue.
Prints, for queues of growing length: the time one more launch takes (record + number the queue), the time one pump
takes (look for room, renumber), and the database size. No Discord: the presenter's edits are left out (they run in
the background and are rate-limited by Discord, not by the bot).

    python scripts/bench_queue.py --sizes 10 100 1000 --members 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.core.launcher import Launcher, Member, Where  # noqa: E402
from bot.core.requests import imagine_launch  # noqa: E402
from bot.core.tracker import Tracker  # noqa: E402
from bot.legnext.client import LegnextClient  # noqa: E402
from bot.legnext.simulator import running_simulator  # noqa: E402
from bot.storage.database import Database  # noqa: E402
from bot.storage.jobs import JobRecord, JobRepo  # noqa: E402
from bot.storage.limits import LimitsRepo  # noqa: E402

GUILD = 111


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def bench(sizes: list[int], members: int) -> None:
    async with running_simulator(durations={"diffusion": 10_000.0}) as sim:
        for size in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings(
                    discord={"token": "x"},
                    legnext={"api_key": "k", "base_url": sim.base_url, "concurrency": 1},
                    storage={"database": str(Path(tmp) / "q.sqlite3")},
                    limits={"running_per_member": 1, "queued_per_member": 1000},
                )
                async with Database(settings.storage.database) as db, LegnextClient(
                        base_url=sim.base_url, api_key="k", submit_429_retries=0) as api:
                    repo = JobRepo(db)

                    async def show(job: JobRecord, final: bool) -> None:
                        return None

                    tracker = Tracker(api, repo, settings.jobs, show)
                    launcher = Launcher(api=api, repo=repo, config=settings, tracker=tracker,
                                        owe=lambda job: None, limits=LimitsRepo(db))
                    where = Where(GUILD, 222)
                    launch_times: list[float] = []
                    for i in range(size + 1):
                        member = Member(1000 + i % members)
                        what = imagine_launch(f"queued cat {i}", {})
                        t0 = time.perf_counter()
                        await launcher.launch(what, member, where)
                        launch_times.append(time.perf_counter() - t0)
                    pumps: list[float] = []
                    for _ in range(20):
                        t0 = time.perf_counter()
                        await launcher.pump()
                        pumps.append(time.perf_counter() - t0)
                    queued = len(await repo.queued())
                    db_kb = (await asyncio.to_thread(Path(settings.storage.database).stat)).st_size / 1024
                    last = launch_times[-max(1, size // 10):]
                    print(f"queue {queued:5d} ({members} members): launch p50 {ms(statistics.median(last))} "
                          f"(last 10% of launches), pump p50 {ms(statistics.median(pumps))}, "
                          f"database {db_kb:.0f} KiB")
                    await tracker.stop()
                    await launcher.stop_queue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--members", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(bench(args.sizes, args.members))


if __name__ == "__main__":
    main()
