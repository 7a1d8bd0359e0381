"""Benchmark: N concurrent /imagine jobs through the real bot, against the Legnext simulator and the fake Discord.

Prints API requests per job, Discord calls per job, and the delay between a job completing in the simulator and its
result message being sent. Not a test: it prints figures.

    python scripts/bench_imagine.py --jobs 20 --scale 10
    python scripts/bench_imagine.py --jobs 20 --discord-outage 20   # every message call answers 500 for 20 s

With `--discord-outage S` the fake Discord answers 500 to every message call for S seconds (real seconds, not
scaled) from the moment all commands were answered; it also prints how many delivery attempts and failed Discord
calls that cost per job.

`--scale S` runs every duration S times faster (the simulator's job durations and the bot's polling cadence, status
edit interval and expected durations alike), so request and edit counts match a real run while the delays printed
are also given converted back to real seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.__main__ import app_context  # noqa: E402
from bot.core import tracker as tracker_mod  # noqa: E402
from bot.legnext.simulator import DEFAULT_DURATIONS, running_simulator  # noqa: E402
from tests.fakediscord import FakeDiscord, run_bot  # noqa: E402
from tests.harness import GUILD, make_settings  # noqa: E402


async def bench(n_jobs: int, scale: float, api_concurrency: int, outage_s: float) -> None:
    durations = {k: v / scale for k, v in DEFAULT_DURATIONS.items()}
    for k in list(tracker_mod.EXPECTED_S):
        tracker_mod.EXPECTED_S[k] /= scale
    shown: dict[int, datetime] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with running_simulator(durations=durations) as sim, FakeDiscord(guild_id=GUILD) as fake:
            sim.max_concurrent = api_concurrency
            settings = make_settings(
                sim, fake, Path(tmp) / "bench.sqlite3",
                jobs={"poll_min_s": 2.0 / scale, "poll_max_s": 15.0 / scale,
                      "status_edit_interval_s": 5.0 / scale},
            )
            async with app_context(settings) as bot, run_bot(bot, fake, token="fake-discord-token-123456"):
                original_attempt = bot.delivery.attempt

                async def timed_attempt(job, links_only):  # type: ignore[no-untyped-def]
                    await original_attempt(job, links_only)  # raises when Discord did not accept it
                    shown[job.id] = datetime.now(UTC)

                bot.delivery.attempt = timed_attempt
                for i in range(n_jobs):
                    fake.add_member(10_000 + i, f"member{i}")
                await asyncio.sleep(0.2)
                calls_before = len(fake.calls)
                t0 = time.monotonic()
                inters = [await fake.slash("imagine", options={"prompt": f"benchmark job {i}"},
                                           user_id=10_000 + i) for i in range(n_jobs)]
                await asyncio.gather(*(i.wait_response() for i in inters))
                outage = None
                if outage_s > 0:
                    outage = fake.inject_fault("*", r"/channels/\d+/messages", status=500, count=None)
                    asyncio.get_running_loop().call_later(outage_s, outage.remove)

                async def all_done() -> bool:
                    return len(shown) >= n_jobs
                await fake.wait_for(all_done, timeout=600)
                wall = time.monotonic() - t0
                jobs = await bot.jobs_repo.all()

            posts = sim.count("POST")
            gets = sim.count("GET", "/v1/job/")
            calls = fake.calls[calls_before:]
            edits = sum(1 for c in calls if c.method == "PATCH" and "/channels/" in c.path)
            creates = sum(1 for c in calls if c.method == "POST" and c.path.startswith("/channels/"))
            delays = []
            for job in jobs:
                sim_job = sim.jobs.get(job.job_id or "")
                if sim_job is None or sim_job.ended_at is None or job.id not in shown:
                    continue
                delays.append((shown[job.id] - sim_job.ended_at).total_seconds())
    completed = sum(1 for j in jobs if j.status == "completed")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"jobs: {n_jobs} concurrent /imagine, {completed} completed, scale x{scale:g}, "
          f"API concurrency {api_concurrency}, wall {wall:.1f}s ({wall * scale:.0f}s at real speed)")
    print(f"API requests per job: {(posts + gets) / n_jobs:.2f} ({posts / n_jobs:.2f} submits, "
          f"{gets / n_jobs:.2f} status reads)")
    print(f"Discord calls per job: {edits / n_jobs:.2f} message edits, {creates / n_jobs:.2f} messages posted")
    if delays:
        delays.sort()
        p95 = delays[min(len(delays) - 1, int(len(delays) * 0.95))]
        print(f"completion -> result message: median {statistics.median(delays):.3f}s, p95 {p95:.3f}s, "
              f"max {delays[-1]:.3f}s (real speed: median {statistics.median(delays) * scale:.1f}s, "
              f"p95 {p95 * scale:.1f}s)")
    if outage is not None:
        attempts = sum(j.delivery_attempts for j in jobs)
        print(f"Discord outage of {outage_s:g}s: {outage.hits / n_jobs:.2f} failed Discord calls and "
              f"{attempts / n_jobs:.2f} delivery attempts per job ({bot.metrics.given_up} given up)")
    print(f"peak RSS of the whole benchmark process: {rss_mb:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--scale", type=float, default=10.0, help="run this many times faster than real time")
    parser.add_argument("--api-concurrency", type=int, default=6, help="jobs the simulated account runs at once")
    parser.add_argument("--discord-outage", type=float, default=0.0, help="seconds of Discord 500s on messages")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    asyncio.run(bench(args.jobs, args.scale, args.api_concurrency, args.discord_outage))


if __name__ == "__main__":
    main()
