"""Second hostile look at the fair queue (issue 10) after the first round of fixes: jobs stuck in `submitting`,
sends after shutdown began, the expired-link check. Each failing test is a defect in the queue's code."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.core.launcher import Launcher
from bot.vocabulary import JobStatus
from tests.harness import BOB, H, harness
from tests.test_queue_limits_e2e import SLOW, imagine, sim_job_of, submits


async def job_of(h: H, prompt: str) -> Any:
    for job in await h.bot.jobs_repo.all():
        if job.prompt.startswith(prompt):
            return job
    raise AssertionError(f"no job for {prompt!r}")


async def sent(h: H, prompt: str, wait_s: float = 8.0) -> Any:
    """The job once it left the queue and `submitting` (None if it never did within `wait_s`)."""
    async def left() -> Any:
        job = await job_of(h, prompt)
        return job if job.status not in (JobStatus.QUEUED, JobStatus.SUBMITTING) else None
    try:
        return await h.fake.wait_for(left, timeout=wait_s)
    except (AssertionError, TimeoutError):
        return None


# ------------------------------------------------------------------------------------------------ stuck in submitting


@pytest.mark.parametrize("prompt", [
    "a cat in a box https://x]y/ please",  # a stray bracket in a link: urlsplit raises "Invalid IPv6 URL"
    "a cat https://[zz]/?ex=1&is=2&hm=3",
])
async def test_a_queued_prompt_with_a_malformed_link_does_not_jam_the_queue(tmp_path: Path, prompt: str) -> None:
    """`expired_discord_links` runs urlsplit() on every http(s) word of a queued job's body, outside its try: a
    ValueError there escapes `_send` after the claim and before any requeue/refusal, so the job stays `submitting`
    (it holds one of `legnext.concurrency` places for good: with concurrency 1 the whole queue stops, and a restart
    requeues it only to jam again), and `_send_queued` logs ERROR."""
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        assert (await imagine(h, "first fox")).startswith("Started")
        text = await imagine(h, prompt, user_id=BOB)
        assert text.startswith("Queued"), text  # the free checks and the inline path accept it
        assert (await imagine(h, "third fox")).startswith("Queued")
        h.sim.complete_now(await sim_job_of(h, "first fox"))
        job = await sent(h, prompt)
        assert job is not None, f"the queued job is stuck: {(await job_of(h, prompt)).status}"
        if job.job_id:
            h.sim.complete_now(job.job_id)
        assert await sent(h, "third fox") is not None, "the queue stopped behind it"
        assert len(submits(h)) == 3


@pytest.mark.allow_error_logs  # the three failed writes are logged with their tracebacks, by design
async def test_a_queued_job_accepted_but_not_recorded_does_not_hold_a_place_at_the_api_for_good(
        tmp_path: Path) -> None:
    """The API accepted the queued job, but recording its id failed three times (the database was busy for a
    moment): `_send` raises SubmittedButUnrecorded, `_send_queued` only logs it, and the row stays `submitting`
    without its job id, for as long as the bot runs. It counts as running at the API: with concurrency 1, nothing
    else is ever sent; the member's points stay reserved and their result (made and billed) is never shown."""
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        assert (await imagine(h, "first hare")).startswith("Started")
        assert (await imagine(h, "second hare", user_id=BOB)).startswith("Queued")
        assert (await imagine(h, "third hare")).startswith("Queued")
        second = await job_of(h, "second hare")
        repo = h.bot.launcher.repo
        original = repo.update
        failures = 0

        async def busy_once(local_id: int, **changes: Any) -> Any:
            nonlocal failures
            if local_id == second.id and "job_id" in changes and failures < 3:
                failures += 1
                raise RuntimeError("database is locked")
            return await original(local_id, **changes)

        repo.update = busy_once  # type: ignore[method-assign]
        h.sim.complete_now(await sim_job_of(h, "first hare"))
        await h.fake.wait_for(lambda: failures >= 3 or None, timeout=10)
        # the database is fine again; the API finishes the job it accepted
        await asyncio.sleep(0.5)
        for sim_job in list(h.sim.jobs):
            h.sim.complete_now(sim_job)
        assert await sent(h, "third hare", wait_s=8) is not None, (
            f"the queue stopped: the accepted job is left as {(await job_of(h, 'second hare')).status}")


# ------------------------------------------------------------------------------------------------ shutdown


async def test_once_the_queue_is_stopped_a_members_launch_does_not_send_other_queued_jobs(tmp_path: Path) -> None:
    """MJBot.close() stops the queue first, then spends up to shutdown_grace_s on alerts, the tracker and delivery
    before the gateway closes: interactions still arrive. `launch` calls `_dispatch`, which still claims other
    queued jobs (here the same member's older one) and sends them in new `_sending` tasks that nothing waits for
    any more (stop_queue has returned): they are cut off when the process ends ("outcome unknown", the result
    billed and lost) -- what stop_queue's grace was added to prevent. Once stopped, queued jobs should stay
    queued for the next start."""
    async with harness(tmp_path, sim_kwargs=SLOW, legnext={"concurrency": 1}) as h:
        assert (await imagine(h, "running gull")).startswith("Started")
        assert (await imagine(h, "waiting gull")).startswith("Queued")
        launcher: Launcher = h.bot.launcher
        await launcher.stop_queue()  # MJBot.close() begins
        h.sim.complete_now(await sim_job_of(h, "running gull"))

        async def ended() -> bool:
            return bool((await job_of(h, "running gull")).finished)
        await h.fake.wait_for(ended)
        before = len(submits(h))
        await imagine(h, "late gull")  # Alice's command during the rest of close()
        await asyncio.sleep(0.3)
        waiting = await job_of(h, "waiting gull")
        assert waiting.status == JobStatus.QUEUED and len(submits(h)) - before <= 1, (
            f"the stopped queue still sent Alice's queued job (now {waiting.status})")
