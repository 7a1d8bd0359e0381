"""A small scheduler: run `handler(key)` for each key when it falls due, at most `concurrency` at once.

The job tracker (polls) and the delivery of results each run one. Scheduling a key again moves it (the
earlier time is forgotten); keys are plain ints (local job ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def wait_event(event: asyncio.Event, within_s: float | None) -> None:
    """Wait until `event` is set or `within_s` seconds passed, whichever first.

    Not `asyncio.wait_for(event.wait(), ...)`: on Python 3.11 it swallows a cancellation that arrives as the event is
    set (the inner task finished, so its result is returned), and a loop stopped that way never stops.
    `asyncio.timeout` runs in the caller's own task, so a cancellation always gets through."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            await event.wait()


class Scheduler:
    def __init__(self, name: str, handler: Callable[[int], Awaitable[None]], *, concurrency: int) -> None:
        self.name = name
        self.handler = handler
        self._heap: list[tuple[float, int]] = []
        self._due: dict[int, float] = {}  # key -> when it is due (monotonic)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self._sem = asyncio.Semaphore(concurrency)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    def schedule(self, key: int, delay: float = 0.0) -> None:
        when = time.monotonic() + max(0.0, delay)
        self._due[key] = when
        heapq.heappush(self._heap, (when, key))
        self._wake.set()

    def scheduled(self, key: int) -> bool:
        return key in self._due

    def busy(self, key: int) -> bool:
        return key in self._running

    @property
    def pending(self) -> int:
        return len(self._due)

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop taking due keys; give the running handlers `grace_s` to finish, then cancel them."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        running = list(self._running.values())
        if running and grace_s > 0:
            _done, still = await asyncio.wait(running, timeout=grace_s)
            running = list(still)
        for t in running:
            t.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            now = time.monotonic()
            while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
                heapq.heappop(self._heap)  # stale entry
            if not self._heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            when, key = self._heap[0]
            if when > now:
                self._wake.clear()
                await wait_event(self._wake, when - now)
                continue
            if key in self._running:  # still busy with it: look again a little later
                heapq.heappop(self._heap)
                self.schedule(key, 0.05)
                continue
            heapq.heappop(self._heap)
            del self._due[key]
            await self._sem.acquire()
            task = asyncio.create_task(self._run(key), name=f"{self.name}-{key}")
            self._running[key] = task

    async def _run(self, key: int) -> None:
        try:
            await self.handler(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: handling %d failed; trying again later", self.name, key)
            self.schedule(key, 30.0)
        finally:
            self._running.pop(key, None)
            self._sem.release()
