"""Images a member gives a job (/describe, /blend, later /video): an uploaded attachment or a link, checked before any
call. Pure: no I/O, no Discord (an attachment is described by plain values).

Attachments: an image type, a size cap, and the full signed URL exactly as Discord gave it (its `ex`/`is`/`hm` query
string must stay intact, legnext-notes.md). Links: the API fetches them, so only http/https to a public host, with
no credentials; loopback, private, link-local (the cloud metadata address) and other special addresses are refused.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.core.errors import BadInput

IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/gif": "GIF"}
MAX_URL = 1024  # the API's limit on an image URL
BLOCKED_NAMES = ("localhost", "localhost.localdomain", "metadata", "metadata.google.internal")
BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")


@dataclass(frozen=True)
class Attachment:
    """What Discord says of an uploaded file."""

    filename: str
    content_type: str | None
    size: int
    url: str


def check_image(att: Attachment, *, max_bytes: int, option: str = "image") -> str:
    """The URL to send for an uploaded image (unchanged), or `BadInput` naming the option and the problem."""
    ctype = (att.content_type or "").split(";")[0].strip().lower()
    if ctype not in IMAGE_TYPES:
        kinds = ", ".join(IMAGE_TYPES.values())
        raise BadInput(f"`{option}` must be an image ({kinds}); `{_name(att.filename)}` isn't one.")
    if att.size > max_bytes:
        raise BadInput(f"`{option}` is too large ({_mb(att.size)}); the limit is {_mb(max_bytes)}.")
    if att.size <= 0:
        raise BadInput(f"`{option}` is empty.")
    parts = urlsplit(att.url)
    if (parts.scheme != "https" and parts.scheme != "http") or not parts.hostname:
        raise BadInput(f"`{option}` has no usable link; please upload it again.")
    if len(att.url) > MAX_URL:
        raise BadInput(f"`{option}`'s link is longer than Legnext accepts; please upload it again.")
    return att.url


def check_link(url: str, *, option: str = "link") -> str:
    """A link the API may fetch: http/https, no credentials, a public host. Returns it stripped."""
    url = url.strip()
    if not url:
        raise BadInput(f"`{option}` is empty.")
    if len(url) > MAX_URL:
        raise BadInput(f"`{option}` is longer than {MAX_URL} characters.")
    if any(ch.isspace() for ch in url):
        raise BadInput(f"`{option}` can't contain spaces.")
    if "\\" in url or any(not ch.isprintable() for ch in url):
        # fetchers that follow the WHATWG URL standard read "\" as "/": the host they see would not be the one
        # checked here
        raise BadInput(f"`{option}` isn't a valid link.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise BadInput(f"`{option}` isn't a valid link.") from None
    if host and not _valid_host(host):
        raise BadInput(f"`{option}` isn't a valid link.")
    if parts.scheme not in ("http", "https"):
        raise BadInput(f"`{option}` must start with http:// or https://.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise BadInput(f"`{option}` can't contain a user name or password.")
    if not host:
        raise BadInput(f"`{option}` has no host.")
    if not is_public_host(host):
        raise BadInput(f"`{option}` points at a private or local address, which Legnext can't (and mustn't) fetch.")
    return url


# links whose path names a file that is plainly not an image (one with no extension, or an image one, may be)
NOT_IMAGES = frozenset({"mp4", "mov", "webm", "mkv", "avi", "m4v", "mp3", "wav", "ogg", "pdf", "txt", "html", "htm",
                        "json", "xml", "zip", "rar", "7z", "gz", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "exe",
                        "js", "css", "svg", "psd"})


def check_image_link(url: str, *, option: str = "link") -> str:
    """`check_link`, and a path that doesn't name a file of another kind (`clip.mp4`, `notes.pdf`)."""
    url = check_link(url, option=option)
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in NOT_IMAGES:
        raise BadInput(f"`{option}` links to a .{ext} file, not an image (PNG, JPEG, WebP or GIF).")
    return url


_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _valid_host(host: str) -> bool:
    """A bracketed IPv6 address, or dot-separated DNS labels (unicode names in their punycode form); no "%" escapes,
    which some fetchers decode into another host."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.strip("[]").split("%")[0])
        except ValueError:
            return False
        return "%" not in host
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return all(_LABEL.match(label) for label in ascii_host.split("."))


def is_public_host(host: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses (in any of the forms
    an IP can be written in: dotted, integer, hex, IPv6, IPv4-mapped) and for local names."""
    host = host.strip("[]").rstrip(".").lower()
    if host in BLOCKED_NAMES or host.endswith(BLOCKED_SUFFIXES) or ("." not in host and ":" not in host):
        # a single label ("intranet", "2130706433") is a local name or an integer IP
        return _ip_is_public(host) if _looks_numeric(host) else False
    if _looks_numeric(host) or ":" in host:
        return _ip_is_public(host)
    return True


def _looks_numeric(host: str) -> bool:
    return all(part.isdigit() or part.startswith("0x") for part in host.split(".") if part)


def _ip_is_public(host: str) -> bool:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        legacy = _legacy_ipv4(host)
        if legacy is None:
            return False
        ip = legacy
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, IPv4-compatible (::/96), NAT64 (64:ff9b::/96) or 6to4 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    value = int(ip)
    if value >> 32 == 0 or value >> 32 == 0x0064FF9B << 64:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """`2130706433`, `0x7f.1`, `127.1`: forms `inet_aton` accepts (and so might the fetcher)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    try:
        nums = [int(p, 0) if not (len(p) > 1 and p.startswith("0") and not p.startswith("0x")) else int(p, 8)
                for p in parts]
    except ValueError:
        return None
    *head, last = nums
    if any(n < 0 or n > 255 for n in head) or last < 0 or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = value * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(value)


def _name(filename: str) -> str:
    return "".join(ch for ch in filename if ch.isprintable() and ch not in "`*_~|<>@")[:60] or "the file"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


_URL = re.compile(r"https?://[^\s<>]+")
LINK_MARGIN_S = 120.0  # the API fetches a given image soon after the submit, not at once


def expired_discord_links(body: Mapping[str, Any], now: float) -> list[str]:
    """Discord attachment links (signed: `ex`, `is`, `hm`) in a request body that expire within `LINK_MARGIN_S` of
    `now`: a job that waited that long in the queue can't be made from them (the API would fail it)."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, str):
            for url in _URL.findall(value):
                try:  # words in a prompt that merely look like a link (`https://x]y/`) don't parse
                    query = parse_qs(urlsplit(url).query)
                    expires = int(query["ex"][0], 16) if {"ex", "is", "hm"} <= query.keys() else None
                except ValueError:
                    continue
                if expires is not None and expires <= now + LINK_MARGIN_S:
                    found.append(url)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)
        elif isinstance(value, Mapping):
            for item in value.values():
                visit(item)

    visit(body)
    return found

