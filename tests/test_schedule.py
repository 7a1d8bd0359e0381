"""`wait_event`: the loops of the queue, the scheduler and the balance watch stop when they are cancelled, even when
the cancellation arrives just as the event they wait on is set (Python 3.11's `asyncio.wait_for` swallows it)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.core.schedule import wait_event


async def _stops(wait: object) -> bool:
    event = asyncio.Event()
    turns = 0

    async def loop() -> None:
        nonlocal turns
        while True:
            await wait(event)  # type: ignore[operator]
            event.clear()
            turns += 1

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)  # waiting
    event.set()
    task.cancel()  # in the same turn of the event loop
    done, _ = await asyncio.wait([task], timeout=0.5)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return bool(done) and task.cancelled()


async def test_a_cancellation_with_the_event_set_stops_the_loop() -> None:
    assert await _stops(lambda e: wait_event(e, 5.0))


async def test_the_bug_it_avoids_is_real_on_this_python() -> None:
    async def with_wait_for(e: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(e.wait(), 5.0)
    import sys
    if sys.version_info >= (3, 12):
        pytest.skip("asyncio.wait_for no longer swallows it")
    assert not await _stops(with_wait_for)


async def test_it_times_out_and_wakes_early() -> None:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await wait_event(event, 0.05)
    assert 0.04 <= loop.time() - t0 < 1.0
    loop.call_later(0.01, event.set)
    t0 = loop.time()
    await wait_event(event, 5.0)
    assert loop.time() - t0 < 1.0
