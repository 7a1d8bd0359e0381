"""Vary (Region) without a drawing tool: the member picks cells of a 3x3 grid; each becomes a polygon of the mask.

The API wants polygons in an image coordinate space of 500-4096 pixels a side, so the space follows the image's
aspect ratio (from `--ar`) with its short side at least 500.
"""

from __future__ import annotations

import math
from typing import Any

from bot.core.prompt import parse_prompt

CELL_NAMES = (
    "Top left", "Top centre", "Top right",
    "Middle left", "Centre", "Middle right",
    "Bottom left", "Bottom centre", "Bottom right",
)
MIN_SIDE, MAX_SIDE = 500, 4096


def canvas_for(prompt: str) -> tuple[int, int]:
    """Width and height of the coordinate space for the prompt's aspect ratio."""
    flag = parse_prompt(prompt).get("aspect")
    w, h = 1, 1
    if flag and flag.value and ":" in flag.value:
        a, _, b = flag.value.partition(":")
        if a.strip().isdigit() and b.strip().isdigit() and int(a) > 0 and int(b) > 0:
            w, h = int(a), int(b)
    long_side = max(1024, math.ceil(MIN_SIDE * max(w, h) / min(w, h)))
    long_side = min(long_side, MAX_SIDE)
    short_side = max(MIN_SIDE, round(long_side * min(w, h) / max(w, h)))
    return (long_side, short_side) if w >= h else (short_side, long_side)


def parse_cells(value: str) -> list[int]:
    """'159' -> [1, 5, 9]; raises ValueError on anything but distinct digits 1-9."""
    cells = sorted({int(ch) for ch in value if ch.isdigit()})
    if not cells or any(c < 1 or c > 9 for c in cells) or len(value) != len(set(value)) or not value.isdigit():
        raise ValueError("pick between one and nine regions")
    return cells


def mask_for(cells: list[int], prompt: str) -> dict[str, Any]:
    """The `mask` body: one rectangle per picked cell, points clockwise from top-left."""
    width, height = canvas_for(prompt)
    areas = []
    for cell in cells:
        row, col = divmod(cell - 1, 3)
        x0, x1 = width * col // 3, width * (col + 1) // 3
        y0, y1 = height * row // 3, height * (row + 1) // 3
        areas.append({"width": width, "height": height, "points": [x0, y0, x1, y0, x1, y1, x0, y1]})
    return {"areas": areas}
