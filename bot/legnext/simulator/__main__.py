"""Command line: ``python -m bot.legnext.simulator --port 8787`` serves the simulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from bot.legnext.simulator.http import Simulator

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# command line


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.legnext.simulator",
        description="Serve a local simulator of the Legnext AI API (base URL http://HOST:PORT/api).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--time-scale", type=float, default=1.0, help="speed factor: 10 makes jobs 10x faster")
    parser.add_argument("--balance", type=int, default=100_000, help="starting balance in points")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any non-empty key)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    sim = Simulator(api_key=args.api_key, balance=args.balance, time_scale=args.time_scale)
    await sim.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.info("simulator ready: base_url=%s time_scale=%s balance=%s", sim.base_url, args.time_scale, args.balance)
    try:
        await stop.wait()
    finally:
        log.info("simulator stopping")
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
