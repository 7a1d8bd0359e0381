"""A local, faithful simulator of the Legnext AI REST API (Midjourney jobs).

It lets an operator try the bot without spending credits and is the backbone of the tests.
Run it with ``python -m bot.legnext.simulator --port 8787`` and point the bot's
``legnext.base_url`` at ``http://127.0.0.1:8787/api``.

What it imitates (see ``/work/shared/reference/legnext-notes.md``):

* every submit endpoint with the documented validation (camelCase keys, ranges, enums);
* the job object, its lifecycle ``pending -> processing -> completed/failed`` computed lazily
  from a scalable clock, at most six jobs processing at once;
* points frozen at submit, consumed on completion, refunded on failure;
* model rules (V8/V8.1 have no upscale/pan/inpaint/outpaint, V8.1 rejects some parameters,
  enhance only for ``--v 7 --draft`` grids) and the three-day follow-up window;
* result files it serves itself (real PNGs, a tiny MP4), with signed-looking URLs;
* webhook callbacks ``{"timestamp": ms, "data": job}``.

Knobs for tests (errors, hangs, failures, stuck jobs, refused words, ageing) exist both as
Python methods on :class:`Simulator` and over HTTP under ``/_sim/`` (no API key needed).

Layout of the package (imports point one way: ``http`` -> ``engine`` -> ``rules``/``media``):

* :mod:`~bot.legnext.simulator.rules`: constants and the pure validation and model rules;
* :mod:`~bot.legnext.simulator.media`: the PNGs and MP4s it serves;
* :mod:`~bot.legnext.simulator.engine`: :class:`SimulatorCore`, the account's state, clock, knobs and jobs;
* :mod:`~bot.legnext.simulator.http`: :class:`Simulator` (the core plus ``start``/``stop``), :func:`make_app`
  and :func:`running_simulator`;
* :mod:`~bot.legnext.simulator.__main__`: the command line.
"""

from bot.legnext.simulator.engine import RecordedRequest, SimJob, SimulatorCore
from bot.legnext.simulator.http import SIM_KEY, Handler, Simulator, make_app, running_simulator
from bot.legnext.simulator.media import FAKE_MP4_HEADER, RGB, make_mp4, make_png, tile_colour
from bot.legnext.simulator.rules import (
    DEFAULT_DURATIONS,
    DEFAULT_ERROR_MESSAGES,
    ENDPOINTS,
    ENHANCE_UPSCALE_COST,
    ENHANCE_UPSCALE_ENUMS,
    FOLLOW_UP_WINDOW,
    GRID_TASKS,
    MAX_CONCURRENT,
    MAX_TEXT,
    MAX_URL,
    MAX_VIDEO_EXTENSIONS,
    SINGLE_IMAGE_TASKS,
    STORAGE_WINDOW,
    TEXT_TASKS,
    VIDEO_TASKS,
    ZERO_TIME,
    ApiError,
    JSONDict,
    ModelInfo,
    check_image_prompt,
    check_video_prompt,
    grid_actions,
    normalize_prompt,
    parse_model,
    video_batch_size,
    video_image_urls,
)

__all__ = [
    "DEFAULT_DURATIONS",
    "DEFAULT_ERROR_MESSAGES",
    "ENDPOINTS",
    "ENHANCE_UPSCALE_COST",
    "ENHANCE_UPSCALE_ENUMS",
    "FAKE_MP4_HEADER",
    "FOLLOW_UP_WINDOW",
    "GRID_TASKS",
    "MAX_CONCURRENT",
    "MAX_TEXT",
    "MAX_URL",
    "MAX_VIDEO_EXTENSIONS",
    "RGB",
    "SIM_KEY",
    "SINGLE_IMAGE_TASKS",
    "STORAGE_WINDOW",
    "TEXT_TASKS",
    "VIDEO_TASKS",
    "ZERO_TIME",
    "ApiError",
    "Handler",
    "JSONDict",
    "ModelInfo",
    "RecordedRequest",
    "SimJob",
    "Simulator",
    "SimulatorCore",
    "check_image_prompt",
    "check_video_prompt",
    "grid_actions",
    "make_app",
    "make_mp4",
    "make_png",
    "normalize_prompt",
    "parse_model",
    "running_simulator",
    "tile_colour",
    "video_batch_size",
    "video_image_urls",
]
