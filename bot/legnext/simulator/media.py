"""Result files of the simulator: real RGB PNGs and a tiny fake MP4, made without Pillow."""

from __future__ import annotations

import functools
import hashlib
import math
import struct
import zlib

FAKE_MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free"

# --------------------------------------------------------------------------------------------
# PNG / MP4 generation (no Pillow)

RGB = tuple[int, int, int]


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


@functools.lru_cache(maxsize=512)
def make_png(width: int, height: int, tiles: tuple[RGB, ...], columns: int = 1) -> bytes:
    """A real RGB PNG of ``width`` x ``height`` filled with ``tiles`` laid out on a grid.

    One tile fills the whole picture; four tiles with ``columns=2`` make a 2x2 grid.
    """
    rows_of_tiles = max(1, math.ceil(len(tiles) / columns))
    tile_w = width // columns
    tile_h = height // rows_of_tiles
    raw = bytearray()
    for y in range(height):
        tile_row = min(y // max(tile_h, 1), rows_of_tiles - 1)
        line = bytearray(b"\x00")
        for col in range(columns):
            idx = tile_row * columns + col
            colour = tiles[idx] if idx < len(tiles) else (0, 0, 0)
            w = tile_w if col < columns - 1 else width - tile_w * (columns - 1)
            line += bytes(colour) * w
        raw += line
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + _png_chunk(b"IEND", b"")
    )


def _hsv_to_rgb(hue: float, sat: float, val: float) -> RGB:
    hue = hue % 360.0
    c = val * sat
    x = c * (1 - abs((hue / 60.0) % 2 - 1))
    m = val - c
    sector = int(hue // 60)
    r, g, b = [(c, x, 0.0), (x, c, 0.0), (0.0, c, x), (0.0, x, c), (x, 0.0, c), (c, 0.0, x)][sector]
    return (round((r + m) * 255), round((g + m) * 255), round((b + m) * 255))


def tile_colour(job_id: str, index: int) -> RGB:
    """The colour of image ``index`` of job ``job_id``: distinct for the four images of a job."""
    base = int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % 360
    return _hsv_to_rgb(base + 90.0 * index, 0.75, 0.9)


def make_mp4(job_id: str, index: int) -> bytes:
    return FAKE_MP4_HEADER + f"simulated video {job_id} #{index}".encode()
