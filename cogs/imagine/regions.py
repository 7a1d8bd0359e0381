"""Vary (Region)'s masks: the cells of a 3x3 grid picked without the web editor (no `web.public_url`), each becoming
a polygon of the mask, and the polygons drawn in the web editor, checked and put in the order the docs ask for.

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


# ------------------------------------------------------------------------------------------------ the web editor

MAX_AREAS = 20  # regions in one mask
MAX_POINTS = 500  # points of one region (the page simplifies a lasso well below this)
MAX_TOTAL_POINTS = 2000  # points of all regions together


def mask_space(image_width: int, image_height: int) -> tuple[int, int]:
    """The mask's coordinate space for an image: its own pixels when each side is 500-4096 (an upscale is), else the
    image scaled to fit (each side then clamped to the API's range)."""
    if image_width <= 0 or image_height <= 0:
        raise ValueError("an image has positive sides")
    scale = 1.0
    if min(image_width, image_height) < MIN_SIDE:
        scale = MIN_SIDE / min(image_width, image_height)
    elif max(image_width, image_height) > MAX_SIDE:
        scale = MAX_SIDE / max(image_width, image_height)

    def side(v: int) -> int:
        return min(MAX_SIDE, max(MIN_SIDE, round(v * scale)))

    return side(image_width), side(image_height)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def twice_area(points: list[int]) -> int:
    """Twice the polygon's signed area (shoelace); positive when it runs clockwise on screen (y points down)."""
    xs, ys = points[0::2], points[1::2]
    n = len(xs)
    return sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))


def normalise_polygon(points: list[int]) -> list[int]:
    """The same polygon as the docs want it: clockwise, starting at its top-left-most point; repeated points and a
    closing point equal to the first are dropped."""
    pairs: list[tuple[int, int]] = []
    for i in range(0, len(points), 2):
        p = (points[i], points[i + 1])
        if not pairs or pairs[-1] != p:
            pairs.append(p)
    while len(pairs) > 1 and pairs[0] == pairs[-1]:
        pairs.pop()
    if twice_area([c for p in pairs for c in p]) < 0:
        pairs.reverse()
    start = min(range(len(pairs)), key=lambda i: (pairs[i][0] + pairs[i][1], pairs[i][1], pairs[i][0]))
    pairs = pairs[start:] + pairs[:start]
    return [c for p in pairs for c in p]


def check_areas(areas: Any, width: int, height: int) -> dict[str, Any]:
    """The `mask` body for polygons drawn in the web editor, each a flat list `[x0, y0, x1, y1, ...]` of integers in
    the `width` x `height` mask space. Raises ValueError with a sentence for the member on anything else."""
    if not isinstance(areas, list) or not areas:
        raise ValueError("Mark at least one region of the image to vary.")
    if len(areas) > MAX_AREAS:
        raise ValueError(f"Mark at most {MAX_AREAS} regions (you marked {len(areas)}); undo some.")
    out = []
    total = 0
    for n, points in enumerate(areas, 1):
        if not isinstance(points, list) or not all(_is_int(v) for v in points) or len(points) % 2:
            raise ValueError(f"Region {n} isn't a list of whole-pixel x, y points.")
        if len(points) // 2 > MAX_POINTS:
            raise ValueError(f"Region {n} has too many points (at most {MAX_POINTS}); draw it with fewer.")
        total += len(points) // 2
        if total > MAX_TOTAL_POINTS:
            raise ValueError(f"The regions have too many points together (at most {MAX_TOTAL_POINTS}).")
        xs, ys = points[0::2], points[1::2]
        if any(not 0 <= x <= width for x in xs) or any(not 0 <= y <= height for y in ys):
            raise ValueError(f"Region {n} goes outside the image.")
        polygon = normalise_polygon(points)
        if len(polygon) < 6 or twice_area(polygon) == 0:
            raise ValueError(f"Region {n} is too small: it needs an area, not a line or a dot.")
        out.append({"width": width, "height": height, "points": polygon})
    return {"areas": out}
