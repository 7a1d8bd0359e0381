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
