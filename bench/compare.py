"""Benchmark (issue #11): the same /imagine workload three ways, against the Legnext simulator and the fake Discord.

    .venv/bin/python bench/compare.py                 # 200 jobs, x5 faster than real time, load phase at 2,000
    .venv/bin/python bench/compare.py --quick         # smoke run: small N, small load
    .venv/bin/python bench/compare.py --jobs 200 --scale 10 --load 2000

The three ways, each with its own simulator, fake Discord and (for the bot) database, one after the other:

  naive      a fixed 3 s polling loop like the vendor SDK's `wait_for_completion`: submit each job to the simulator,
             `GET /v1/job/{id}` every 3 s until it ends, then post one message with the image URL to the fake
             Discord's REST with aiohttp (no download, no re-upload, no slash command, no status messages).
  polling    the real bot (`app_context` + `run_bot`), /imagine through `fake.slash`, results found by polling.
  callbacks  the same bot with `web.listen` on a free 127.0.0.1 port and `web.public_url` at it: Legnext's
             callbacks poke the tracker; polling is a safety net.

Workload: N diffusion jobs submitted in a burst, each lasting a duration drawn from the observed range (imagine:
30-40 s; the docs say 30-90 s, see --dur-min/--dur-max), the same draw for the three ways. Time runs `--scale`
times faster: the simulator's durations and every time constant of the three clients (the naive 3 s interval,
the bot's jobs.poll_min_s / poll_max_s / status_edit_interval_s, the tracker's EXPECTED_S table) are divided by it.
The simulated account runs `--api-concurrency` jobs at once (default 50, not the real ~6), so the account's
concurrency is not the bottleneck (with 200 jobs some still wait their turn at the API, for all three alike);
members, limits.running_per_member and legnext.concurrency (the bot's own queue) are set so that no job is refused
or held back by the bot: the three ways are compared on how they follow jobs, not on queueing.

The default scale is 5: simulator, fake Discord and client share one event loop, and on 2 shared cores x10 already
keeps the process busy during completion waves and x20 saturates it (delays then measure the benchmark's CPU, not the
design). The CPU busy column (CPU seconds per wall second) shows it; over 60% a warning is printed.

Figures per way:
  delay      from the simulator job's `ended_at` to the fake Discord's first create/edit of a non-ephemeral
             message for that job showing the result (attachments, an embed image or the image URL), multiplied
             back by the scale (real speed). Fixed costs (HTTP round trips, SQLite, uploads, event-loop queueing)
             are multiplied too, so real-speed figures are pessimistic, the more so the larger the scale.
  API/job    every request the simulator received (submits, status reads, balance), per job; file downloads
             (re-hosting) are shown apart.
  REST/job   every REST call the fake Discord received after the bot was ready (interaction callbacks, webhook
             follow-ups and edits, channel posts and edits), per job.
  429s       answers with status 429 seen by the simulator and by the fake (neither rate-limits unless told).
  CPU s      process CPU time (time.process_time) from the first submit to the last result, whole process
             (aiosqlite's thread included); CPU busy = CPU s / wall s.
  RSS        peak RSS of the whole benchmark process so far (simulator, fake Discord and bot all live in it).
  lag p99    event-loop lag while the way ran (a task sleeping 10 ms in a loop, overshoot recorded).

Then the load phase, at real speed (no scaling: lag and acknowledgement times are absolute): the bot (callbacks by
default, `--load-mode polling` for the other) with `--load-low` and then `--load` jobs in flight (durations of an
hour, so none ends; the API queues them), measuring event-loop lag and the slash-command acknowledgement time (from
`fake.slash` to the interaction's first callback reaching the fake Discord) of `--probes` extra /imagine commands sent
one by one. The simulator and the fake Discord share the bot's event loop and process, so every figure includes
their work (and their heap, which lengthens the garbage collector's full passes): an upper bound for the bot alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import random
import re
import resource
import shlex
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.__main__ import app_context  # noqa: E402
from bot.core import tracker as tracker_mod  # noqa: E402
from bot.legnext.simulator import Simulator, running_simulator  # noqa: E402
from tests.fakediscord import FakeDiscord, FakeInteraction, FakeMessage, run_bot  # noqa: E402
from tests.harness import CHANNEL, GUILD, make_settings  # noqa: E402

TOKEN = "fake-discord-token-123456"
API_KEY = "sim-api-key-abcdef"
NAIVE_POLL_S = 3.0  # the vendor SDK's wait_for_completion interval
BOT_JOBS = {"poll_min_s": 2.0, "poll_max_s": 15.0, "status_edit_interval_s": 5.0}  # the bot's defaults (README)
PER_MEMBER = 50  # limits.running_per_member's upper bound
BALANCE = 10**9
PROMPT_RE = re.compile(r"benchmark (\w+) number (\d+)")
ORIGINAL_EXPECTED = dict(tracker_mod.EXPECTED_S)
BUSY = 0.6  # CPU seconds per wall second above which a way's delays are mostly queueing for the CPU

log = logging.getLogger("bench")


def prompt(tag: str, i: int) -> str:
    return f"benchmark {tag} number {i} a lighthouse at dusk"


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------------- instruments


class ResultWatch:
    """When each benchmark job's result first became visible in the fake Discord: wraps the fake's `_touch`, which
    runs on every message create and edit, once the message holds its new content."""

    def __init__(self, fake: FakeDiscord, tag: str) -> None:
        self.tag = tag
        self.shown: dict[int, float] = {}  # job index -> time.time()
        self._orig = fake._touch
        fake._touch = self._touch  # type: ignore[method-assign]

    @staticmethod
    def shows_result(msg: FakeMessage) -> bool:
        return bool(msg.attachments) or any((e.get("image") or {}).get("url") for e in msg.embeds) or bool(
            re.search(r"https?://\S+/files/", msg.content))

    def _touch(self, msg: FakeMessage) -> None:
        self._orig(msg)
        if msg.ephemeral or msg.deleted:
            return
        m = PROMPT_RE.search(msg.content)
        if m is None or m.group(1) != self.tag:
            return
        i = int(m.group(2))
        if i not in self.shown and self.shows_result(msg):
            self.shown[i] = time.time()


def vary_durations(sim: Simulator, duration_of: Callable[[int], float]) -> None:
    """Each benchmark job gets its own duration (simulator seconds), chosen by the index in its prompt."""
    orig = sim._create

    def create(plan: Any, payload: Any, callback: Any, origin: str) -> Any:
        m = PROMPT_RE.search(plan.prompt)
        if m is not None:
            sim.durations[plan.task_type] = duration_of(int(m.group(2)))
        return orig(plan, payload, callback, origin)

    sim._create = create  # type: ignore[method-assign]


class LoopLag:
    """A task that sleeps 10 ms in a loop and records how late it wakes up (seconds)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            self.samples.append(max(0.0, time.perf_counter() - t - 0.01))

    def start(self) -> LoopLag:
        self.samples = []
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> list[float]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.samples


class ErrorCount(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


ERRORS = ErrorCount()


# ---------------------------------------------------------------------------------------------------- results


@dataclass
class WayResult:
    name: str
    jobs: int
    shown: int = 0
    delays: list[float] = field(default_factory=list)  # real-speed seconds
    submits: int = 0
    status_reads: int = 0
    other_api: int = 0
    downloads: int = 0
    callbacks: int = 0
    rest: dict[str, int] = field(default_factory=dict)
    sim_429: int = 0
    fake_429: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    rss_mib: float = 0.0
    lag: list[float] = field(default_factory=list)
    errors: int = 0
    late_acks: int = 0
    acks: list[float] = field(default_factory=list)  # the burst's slash-command acknowledgements (bot ways)

    @property
    def api(self) -> int:
        return self.submits + self.status_reads + self.other_api

    @property
    def rest_total(self) -> int:
        return sum(self.rest.values())


def rest_kind(method: str, path: str) -> str:
    if path.startswith("/interactions/"):
        return "callback"
    if path.startswith("/webhooks/"):
        return "webhook"
    if re.fullmatch(r"/channels/\d+/messages", path) and method == "POST":
        return "post"
    if re.fullmatch(r"/channels/\d+/messages/\d+", path) and method == "PATCH":
        return "edit"
    return "other"


def collect(res: WayResult, sim: Simulator, req0: int, fake: FakeDiscord, calls0: int, watch: ResultWatch,
            scale: float) -> None:
    for r in sim.requests[req0:]:
        if r.status == 429:
            res.sim_429 += 1
        if r.path.startswith("/files/"):
            res.downloads += 1
        elif r.method == "POST" and r.path.startswith("/v1/"):
            res.submits += 1
        elif r.method == "GET" and r.path.startswith("/v1/job/"):
            res.status_reads += 1
        else:
            res.other_api += 1
    res.callbacks = len(sim.callbacks_sent)
    for c in fake.calls[calls0:]:
        kind = rest_kind(c.method, c.path)
        res.rest[kind] = res.rest.get(kind, 0) + 1
        if c.status == 429:
            res.fake_429 += 1
    ended: dict[int, float] = {}
    for job in sim.jobs.values():
        m = PROMPT_RE.search(job.prompt)
        job.status  # noqa: B018  (brings the simulated clock up to date, so ended_at is set)
        if m is not None and m.group(1) == watch.tag and job.ended_at is not None:
            ended[int(m.group(2))] = job.ended_at.timestamp()
    res.shown = len(watch.shown)
    res.delays = [(watch.shown[i] - ended[i]) * scale for i in watch.shown if i in ended]


async def settle(fake: FakeDiscord, quiet_s: float = 0.3, max_s: float = 3.0) -> None:
    """Wait until the fake Discord got no call for `quiet_s` (late status edits, answers), at most `max_s`."""
    deadline = time.monotonic() + max_s
    n = len(fake.calls)
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_s)
        if len(fake.calls) == n:
            return
        n = len(fake.calls)


# ---------------------------------------------------------------------------------------------------- the ways


@contextlib.asynccontextmanager
async def world(args: argparse.Namespace, durations: dict[int, float] | None,
                max_concurrent: int) -> AsyncIterator[tuple[Simulator, FakeDiscord]]:
    sim_durations = {"diffusion": 35.0 / args.scale}
    async with running_simulator(durations=sim_durations, balance=BALANCE) as sim, \
            FakeDiscord(guild_id=GUILD, channel_id=CHANNEL) as fake:
        sim.max_concurrent = max_concurrent
        if durations is not None:
            vary_durations(sim, lambda i: durations.get(i, 35.0) / args.scale)
        yield sim, fake


async def run_naive(args: argparse.Namespace, durations: dict[int, float]) -> WayResult:
    n, scale, tag = args.jobs, args.scale, "naive"
    res = WayResult("naive 3 s poll", n)
    interval = NAIVE_POLL_S / scale
    async with world(args, durations, args.api_concurrency) as (sim, fake):
        watch = ResultWatch(fake, tag)
        api_headers = {"x-api-key": API_KEY}
        discord_headers = {"Authorization": f"Bot {TOKEN}"}

        async def one(session: aiohttp.ClientSession, i: int) -> None:
            text = prompt(tag, i)
            async with session.post(f"{sim.base_url}/v1/diffusion", json={"text": text}, headers=api_headers) as r:
                job = await r.json()
            job_id = job["job_id"]
            while True:  # wait_for_completion: read, and if not done sleep the fixed interval
                async with session.get(f"{sim.base_url}/v1/job/{job_id}", headers=api_headers) as r:
                    job = await r.json()
                if job.get("status") in ("completed", "failed"):
                    break
                await asyncio.sleep(interval)
            url = (job.get("output") or {}).get("image_url") or "(no image)"
            async with session.post(f"{fake.api_base}/channels/{CHANNEL}/messages", headers=discord_headers,
                                    json={"content": f"**{text}** - {url}"}) as r:
                await r.read()

        lag = LoopLag().start()
        req0, calls0, err0 = len(sim.requests), len(fake.calls), ERRORS.count
        cpu0, t0 = time.process_time(), time.monotonic()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(one(session, i) for i in range(n)))
        res.cpu_s, res.wall_s = time.process_time() - cpu0, time.monotonic() - t0
        res.lag = await lag.stop()
        collect(res, sim, req0, fake, calls0, watch, scale)
        res.errors = ERRORS.count - err0
    res.rss_mib = rss_mib()
    return res


def bot_settings(args: argparse.Namespace, sim: Simulator, fake: FakeDiscord, db: Path, *, scale: float,
                 callbacks: bool) -> Any:
    web: dict[str, Any] = {}
    if callbacks:
        port = free_port()
        web = {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"}
    jobs = {k: v / scale for k, v in BOT_JOBS.items()}
    return make_settings(sim, fake, db, jobs=jobs, legnext={"timeout_s": 30, "concurrency": 100}, web=web,
                         limits={"running_per_member": PER_MEMBER, "queued_per_member": 1000})


def scale_expected(scale: float) -> None:
    for k, v in ORIGINAL_EXPECTED.items():
        tracker_mod.EXPECTED_S[k] = v / scale


def add_members(fake: FakeDiscord, jobs: int) -> list[int]:
    ids = [10_000 + k for k in range(math.ceil(jobs / PER_MEMBER))]
    for uid in ids:
        fake.add_member(uid, f"member{uid}")
    return ids


async def slash_burst(fake: FakeDiscord, tag: str, indices: range,
                      members: list[int]) -> tuple[list[FakeInteraction], list[float]]:
    """/imagine for each index, sent back to back; waits for every acknowledgement. Returns the interactions and
    each one's acknowledgement time (from just before its `fake.slash` to its first callback)."""
    inters: list[FakeInteraction] = []
    waits: list[asyncio.Task[float]] = []

    async def acked(inter: FakeInteraction, sent: float) -> float:
        await inter.responded.wait()
        return time.perf_counter() - sent

    for i in indices:
        sent = time.perf_counter()
        inter = await fake.slash("imagine", options={"prompt": prompt(tag, i)}, user_id=members[i // PER_MEMBER])
        inters.append(inter)
        waits.append(asyncio.create_task(acked(inter, sent)))
    done, pending = await asyncio.wait(waits, timeout=60)
    for t in pending:
        t.cancel()
    return inters, [t.result() if t in done else math.inf for t in waits]


async def run_bot_way(args: argparse.Namespace, durations: dict[int, float], callbacks: bool) -> WayResult:
    n, scale = args.jobs, args.scale
    tag = "cb" if callbacks else "poll"
    res = WayResult("bot, callbacks" if callbacks else "bot, polling", n)
    scale_expected(scale)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with world(args, durations, args.api_concurrency) as (sim, fake):
                settings = bot_settings(args, sim, fake, Path(tmp) / "bench.sqlite3", scale=scale,
                                        callbacks=callbacks)
                async with app_context(settings) as bot, run_bot(bot, fake, token=TOKEN):
                    members = add_members(fake, n)
                    await asyncio.sleep(0.2)
                    watch = ResultWatch(fake, tag)
                    lag = LoopLag().start()
                    req0, calls0, err0 = len(sim.requests), len(fake.calls), ERRORS.count
                    cpu0, t0 = time.process_time(), time.monotonic()
                    inters, res.acks = await slash_burst(fake, tag, range(n), members)
                    res.late_acks = sum(1 for x in inters if x.late)
                    limit = (max(durations.values()) * math.ceil(n / args.api_concurrency) + 60) / scale + 30
                    with contextlib.suppress(AssertionError):
                        await fake.wait_for(lambda: len(watch.shown) >= n, timeout=limit)
                    res.cpu_s, res.wall_s = time.process_time() - cpu0, time.monotonic() - t0
                    res.lag = await lag.stop()
                    await settle(fake)
                    collect(res, sim, req0, fake, calls0, watch, scale)
                    res.errors = ERRORS.count - err0
    finally:
        scale_expected(1.0)
    res.rss_mib = rss_mib()
    return res


# ---------------------------------------------------------------------------------------------------- load phase


@dataclass
class LoadResult:
    in_flight: int
    lag: list[float]
    acks: list[float]
    late: int
    fill_s: float
    fill_cpu_s: float
    fill_acks: list[float]
    rss_mib: float


async def probe(fake: FakeDiscord, members: list[int], start: int, count: int) -> tuple[list[float], list[float], int]:
    """`count` extra /imagine, one every 0.2 s, while the loop lag is measured: (lag samples, ack times, late)."""
    lag = LoopLag().start()
    await asyncio.sleep(1.0)  # lag before the probes too
    acks: list[float] = []
    late = 0
    for k in range(count):
        i = start + k
        t = time.perf_counter()
        inter = await fake.slash("imagine", options={"prompt": prompt("probe", i)},
                                 user_id=members[i // PER_MEMBER])
        try:
            await asyncio.wait_for(inter.responded.wait(), 10)
            acks.append(time.perf_counter() - t)
        except TimeoutError:
            acks.append(math.inf)
        late += inter.late
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    return await lag.stop(), acks, late


async def run_load(args: argparse.Namespace) -> list[LoadResult]:
    levels = sorted({min(args.load_low, args.load), args.load})
    callbacks = args.load_mode == "callbacks"
    total = args.load + args.probes * len(levels)
    out: list[LoadResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with running_simulator(durations={"diffusion": 3600.0}, balance=BALANCE) as sim, \
                FakeDiscord(guild_id=GUILD, channel_id=CHANNEL) as fake:
            sim.max_concurrent = args.api_concurrency
            # The simulator's callback worker of each job wakes at least once a second and then brings every job
            # up to date (O(jobs)), which is O(jobs^2) a second with thousands of them: the simulator, not the bot,
            # would fill the CPU. None of these hour-long jobs ends during the phase: let the workers sleep 30 s.
            sim._eta_real = lambda job: 30.0  # type: ignore[method-assign]
            settings = bot_settings(args, sim, fake, Path(tmp) / "load.sqlite3", scale=1.0, callbacks=callbacks)
            async with app_context(settings) as bot, run_bot(bot, fake, token=TOKEN):
                members = add_members(fake, total)
                await asyncio.sleep(0.2)
                filled = 0
                probes_sent = 0
                for level in levels:
                    cpu0, t0 = time.process_time(), time.monotonic()
                    fill_acks: list[float] = []
                    while filled < level:  # in batches, so every acknowledgement stays within Discord's 3 s
                        batch = range(filled, min(level, filled + args.batch))
                        _, acks = await slash_burst(fake, "load", batch, members)
                        fill_acks += acks
                        filled = batch.stop
                    await wait_announced(fake, filled + probes_sent)
                    fill_s, fill_cpu = time.monotonic() - t0, time.process_time() - cpu0
                    lag, acks, late = await probe(fake, members, args.load + probes_sent, args.probes)
                    probes_sent += args.probes
                    await wait_announced(fake, filled + probes_sent)  # the probes' jobs too, before going on
                    print(f"... load level {level} done ({time.monotonic() - t0:.0f}s)", file=sys.stderr, flush=True)
                    out.append(LoadResult(level, lag, acks, late, fill_s, fill_cpu, fill_acks, rss_mib()))
    return out


async def wait_announced(fake: FakeDiscord, n: int, limit_s: float = 120.0) -> None:
    """Until the bot has posted `n` job messages (the fill is over, not still draining its launches)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if sum(1 for c in fake.calls if c.method == "POST" and c.path == f"/channels/{CHANNEL}/messages") >= n:
            return
        await asyncio.sleep(0.25)
    log.error("the bot posted fewer than %d job messages within %.0fs", n, limit_s)


# ---------------------------------------------------------------------------------------------------- printing


def ms(x: float) -> str:
    return "-" if math.isnan(x) else ("inf" if math.isinf(x) else f"{x * 1000:.0f}")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)

    def fmt(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([fmt(header), line, *(fmt(r) for r in rows)])


def report_ways(args: argparse.Namespace, results: list[WayResult]) -> None:
    header = ["way", "shown", "delay p50 s", "delay p95 s", "API req/job", "REST/job", "429 sim/fake", "CPU s",
              "wall s", "CPU busy", "peak RSS MiB", "lag p99 ms"]
    rows = []
    for r in results:
        rows.append([r.name, f"{r.shown}/{r.jobs}", f"{pct(r.delays, 50):.1f}", f"{pct(r.delays, 95):.1f}",
                     f"{r.api / r.jobs:.2f}", f"{r.rest_total / r.jobs:.2f}", f"{r.sim_429}/{r.fake_429}",
                     f"{r.cpu_s:.1f}", f"{r.wall_s:.1f}", f"{r.cpu_s / r.wall_s:.0%}", f"{r.rss_mib:.0f}",
                     ms(pct(r.lag, 99))])
    print(table(rows, header))
    busy = [r.name for r in results if r.cpu_s / r.wall_s > BUSY]
    if busy:
        print(f"WARNING: the process was busy over {BUSY:.0%} of the time in: {', '.join(busy)}. At this scale the "
              f"delays measure the benchmark machine's CPU more than the design: try a smaller --scale.")
    print()
    for r in results:
        rest = ", ".join(f"{v / r.jobs:.2f} {k}" for k, v in sorted(r.rest.items()))
        extra = f"; burst acks p50 {ms(pct(r.acks, 50))} ms, p99 {ms(pct(r.acks, 99))} ms" if r.acks else ""
        extra += f"; {r.late_acks} late acks" if r.late_acks else ""
        extra += f"; {r.errors} ERROR log lines" if r.errors else ""
        print(f"  {r.name}: API/job {r.submits / r.jobs:.2f} submits + {r.status_reads / r.jobs:.2f} status reads"
              f" + {r.other_api / r.jobs:.2f} other, {r.downloads / r.jobs:.2f} file downloads, "
              f"{r.callbacks} callbacks sent; REST/job: {rest or 'none'}; delay max "
              f"{max(r.delays, default=math.nan):.1f}s{extra}")


def report_load(args: argparse.Namespace, results: list[LoadResult]) -> None:
    header = ["in flight", "lag p50 ms", "lag p99 ms", "lag max ms", "ack p50 ms", "ack p99 ms", "late acks",
              "fill s", "fill CPU s", "fill ack p99 ms", "peak RSS MiB"]
    rows = [[str(r.in_flight), ms(pct(r.lag, 50)), ms(pct(r.lag, 99)), ms(max(r.lag, default=math.nan)),
             ms(pct(r.acks, 50)), ms(pct(r.acks, 99)), f"{r.late}/{len(r.acks)}", f"{r.fill_s:.1f}",
             f"{r.fill_cpu_s:.1f}", ms(pct(r.fill_acks, 99)), f"{r.rss_mib:.0f}"] for r in results]
    print(table(rows, header))


# ---------------------------------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    durations = {i: rng.uniform(args.dur_min, args.dur_max) for i in range(args.jobs)}
    results: list[WayResult] = []
    t_all = time.monotonic()
    for way in args.ways:
        if way == "naive":
            results.append(await run_naive(args, durations))
        else:
            results.append(await run_bot_way(args, durations, callbacks=(way == "callbacks")))
        print(f"... {results[-1].name} done ({time.monotonic() - t_all:.0f}s)", file=sys.stderr, flush=True)
    load: list[LoadResult] = []
    if args.load > 0:
        load = await run_load(args)
    total = time.monotonic() - t_all

    print(f"command: {' '.join(shlex.quote(a) for a in [sys.executable.rsplit('/', 1)[-1], *sys.argv])}")
    print(f"workload: {args.jobs} /imagine (diffusion) jobs in a burst, durations uniform {args.dur_min:g}-"
          f"{args.dur_max:g} s (seed {args.seed}), run x{args.scale:g} faster; simulated account runs "
          f"{args.api_concurrency} jobs at once (not the real ~6, so the account is not the bottleneck); "
          f"{math.ceil(args.jobs / PER_MEMBER)} members with limits.running_per_member={PER_MEMBER}")
    print(f"time constants /{args.scale:g}: naive poll {NAIVE_POLL_S / args.scale:.3f}s; bot poll_min "
          f"{BOT_JOBS['poll_min_s'] / args.scale:.3f}s, poll_max {BOT_JOBS['poll_max_s'] / args.scale:.3f}s, "
          f"status_edit_interval {BOT_JOBS['status_edit_interval_s'] / args.scale:.3f}s, tracker EXPECTED_S /"
          f"{args.scale:g}")
    print()
    print(f"delays at real speed (scaled delay x{args.scale:g}; fixed costs such as HTTP round trips, SQLite and "
          f"uploads are multiplied too, so these are pessimistic)")
    report_ways(args, results)
    print()
    print("  naive posts a link (no re-hosting, no slash command, no status message); the bot re-hosts the grid as "
          "an attachment and answers the interaction. CPU s and RSS are the whole process (simulator + fake "
          "Discord + client); RSS is the peak so far, so it only grows from row to row.")
    if load:
        print()
        print(f"load phase at real speed: the bot with {args.load_mode}, jobs of an hour (queued at the API, "
              f"none ends), {args.probes} extra /imagine per level one every 0.2 s; ack = fake.slash to the "
              f"interaction's first callback at the fake Discord (Discord's limit: 3 s); lag = a 10 ms sleep's "
              f"overshoot; the simulator and the fake Discord share the loop (upper bound for the bot alone); "
              f"fill = submitting up to that level in batches of {args.batch}")
        report_load(args, load)
    print()
    print(f"total {total:.0f}s; ERROR log lines: {ERRORS.count}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=200, help="jobs per way (default 200)")
    p.add_argument("--scale", type=float, default=5.0, help="run this many times faster than real time (default 5)")
    p.add_argument("--load", type=int, default=2000, help="jobs in flight for the load phase's top level (0: skip)")
    p.add_argument("--load-low", type=int, default=200, help="the load phase's first level (default 200)")
    p.add_argument("--load-mode", choices=("callbacks", "polling"), default="callbacks")
    p.add_argument("--probes", type=int, default=20, help="extra /imagine per load level (default 20)")
    p.add_argument("--batch", type=int, default=50, help="load fill: /imagine sent at once (default 50)")
    p.add_argument("--api-concurrency", type=int, default=50, help="jobs the simulated account runs at once")
    p.add_argument("--dur-min", type=float, default=30.0, help="shortest job, real seconds (default 30)")
    p.add_argument("--dur-max", type=float, default=40.0, help="longest job, real seconds (default 40)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--ways", default="naive,polling,callbacks", help="comma-separated subset to run")
    p.add_argument("--quick", action="store_true", help="smoke run: 30 jobs, load 300 (levels 100 and 300)")
    args = p.parse_args(argv)
    if args.quick:
        args.jobs, args.load, args.load_low, args.probes = 30, 300, 100, 8
    args.ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    bad = set(args.ways) - {"naive", "polling", "callbacks"}
    if bad or args.jobs < 1 or args.scale <= 0 or not 0 < args.dur_min <= args.dur_max:
        p.error(f"bad arguments{': unknown ways ' + ', '.join(sorted(bad)) if bad else ''}")
    return args


def main() -> None:
    args = parse()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    logging.getLogger().addHandler(ERRORS)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
