"""Keep results visible: download them (size-capped, only from the API's hosts) to upload as attachments."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)

API_HOST_SUFFIX = ".legnext.ai"
TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif", "video/mp4": "mp4"}


class DownloadFailed(Exception):
    """The result could not be fetched just now (network, time-out, the server's trouble): try again later."""


@dataclass(frozen=True)
class Downloaded:
    filename: str
    data: bytes


def host_allowed(url: str, extra_hosts: frozenset[str]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host in extra_hosts:
        return True
    return parts.scheme == "https" and (host == API_HOST_SUFFIX[1:] or host.endswith(API_HOST_SUFFIX))


async def download(
    http: httpx.AsyncClient, url: str, *, max_bytes: int, extra_hosts: frozenset[str], stem: str,
    timeout_s: float = 30.0,
) -> Downloaded | None:
    """The file at `url`, or None when it can't be re-hosted (the host is not the API's, the type is not media, it is
    too large or gone). Raises `DownloadFailed` when it may work later (network trouble, 5xx, 429)."""
    if not host_allowed(url, extra_hosts):
        log.warning("not downloading a result from an unexpected host")
        return None
    try:
        async with http.stream("GET", url, timeout=timeout_s, follow_redirects=False) as resp:
            if resp.status_code == 429 or resp.status_code >= 500:
                raise DownloadFailed(f"the result's server answered {resp.status_code}")
            if resp.status_code != 200:
                log.warning("result download answered %d", resp.status_code)
                return None
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
            ext = TYPES.get(ctype)
            if ext is None:
                log.warning("result download has unexpected type %s", ctype)
                return None
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                return None
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    log.info("result larger than %d bytes; linking instead of uploading", max_bytes)
                    return None
                chunks.append(chunk)
    except httpx.HTTPError as e:
        raise DownloadFailed(f"downloading the result failed ({type(e).__name__})") from None
    return Downloaded(f"{stem}.{ext}", b"".join(chunks))


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, JPEG, WebP or GIF from its header, or None when it is none of those."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return (w, h) if w and h else None
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        w, h = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        return (w, h) if w and h else None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # padding
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in _SOF and i + 9 <= len(data):
            h, w = int.from_bytes(data[i + 5:i + 7], "big"), int.from_bytes(data[i + 7:i + 9], "big")
            return (w, h) if w and h else None
        if length < 2:
            return None
        i += 2 + length
    return None
