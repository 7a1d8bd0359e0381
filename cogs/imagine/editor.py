"""Vary (Region)'s web editor, without the web: the signed links, what a press keeps for the page's submission, the
upscaled image the page shows, and the submission itself (checked, then started through the launcher only).

A link is `<public_url>/region/<token>`. The token names a random id, the grid job, the image number, the member and
an expiry (15 minutes), signed with HMAC-SHA256 under a secret the bot makes once and keeps in the database. The
row kept under the id holds the member and the place of the press (the result replies to the upscaled image) and
whether the link was used: each link starts one job. A link that is tampered with, expired or used is refused
before anything else is looked at, and costs nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import discord
import httpx

from bot.config import Settings
from bot.core.errors import BadInput, NotAllowed, SubmittedButUnrecorded, UserError
from bot.core.launcher import Launcher, Member, Where, message_link
from bot.core.media import DownloadFailed, host_allowed, image_size
from bot.core.prompt import PromptError
from bot.legnext.errors import LegnextError, SubmitOutcomeUnknown
from bot.storage.jobs import JobRecord, JobRepo
from bot.storage.members import SettingsRepo
from bot.storage.meta import MetaRepo
from bot.storage.regions import RegionSession, RegionSessionRepo
from bot.ui.custom_ids import CustomId
from bot.ui.errors import NO_PINGS
from bot.ui.members import member_with
from bot.ui.screens import result_urls
from bot.vocabulary import UPSCALE_TASKS, JobStatus
from cogs.imagine import actions as A
from cogs.imagine.regions import check_areas, mask_space

log = logging.getLogger(__name__)

ROUTE = "region"  # the page is at <public_url>/region/<token>
TOKEN_TTL_S = 900  # a link works for 15 minutes
SECRET_KEY = "region_editor_secret"
LINK_MAX = 512  # Discord's limit on a link button's URL
PROMPT_MAX = 6000  # as /imagine's prompt
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,400}\.[A-Za-z0-9_-]{43}")
_DOMAIN = b"mjbot region editor v1\n"
_CACHE_ENTRIES = 64  # links whose image's source and size are kept (a few hundred bytes each)
_NOT_SHOWN_ENTRIES = 256  # images known not to show in the editor (their next press offers the cell picker)

# The page's image is streamed through the bot, never kept whole, so it has its own cap, well above
# `jobs.max_download_mb` (what is re-hosted in Discord): an upscale too heavy to re-host can still be edited.
SHOWN_MAX_MB = 50
SHOWN_MAX_BYTES = SHOWN_MAX_MB * 1024 * 1024
HEADER_MAX_BYTES = 512 * 1024  # how far into the file its size is looked for (a JPEG's may follow its metadata)
IMAGE_TIMEOUT_S = 30.0  # each network step of fetching the image (connect, each read)
DISCORD_TIMEOUT_S = 10.0  # asking Discord who the member is now, at a submission

AttachmentUrl = Callable[[int, int], Awaitable[str | None]]  # (channel id, message id) -> its image's URL
# (guild id, user id) -> the member as Discord knows them now (REST), None when they are not in that server;
# raises discord.HTTPException / aiohttp.ClientError / OSError / TimeoutError when Discord can't be asked
FetchMember = Callable[[int, int], Awaitable[discord.Member | None]]


# ------------------------------------------------------------------------------------------------ tokens

@dataclass(frozen=True)
class Token:
    token_id: str
    job_id: str
    index: int
    member_id: int
    expires_at: int


REFUSED = {  # why a link is refused, as the page says it
    "invalid": "This link isn't valid. Press **Vary (Region)** under your upscaled image in Discord to get one.",
    "expired": "This link has expired: links last 15 minutes. Press **Vary (Region)** under the image in Discord "
               "for a new one.",
    "used": "This link was already used: each link starts one job, and its result appears in the channel. To "
            "vary another region, press **Vary (Region)** under the image in Discord for a new link.",
}


class Refused(Exception):
    """A link that can't be used: `reason` is "invalid", "expired" or "used"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sentence = REFUSED[reason]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, token: Token) -> str:
    payload = f"{token.token_id}|{token.job_id}|{token.index}|{token.member_id}|{token.expires_at}".encode()
    mac = hmac.new(secret, _DOMAIN + payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(secret: bytes, value: str, now: float) -> Token:
    """The token `value` names, if it is ours, untouched and unexpired; else `Refused`."""
    if not TOKEN_RE.fullmatch(value):
        raise Refused("invalid")
    body, _, mac = value.partition(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
    except (binascii.Error, ValueError):
        raise Refused("invalid") from None
    expected = hmac.new(secret, _DOMAIN + payload, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected) or _b64(payload) != body or _b64(given) != mac:
        raise Refused("invalid")
    try:
        token_id, job_id, index, member_id, expires_at = payload.decode().split("|")
        token = Token(token_id, job_id, int(index), int(member_id), int(expires_at))
    except ValueError:  # signed by us, so never; but never trusted blindly either
        raise Refused("invalid") from None
    if now >= token.expires_at:
        raise Refused("expired")
    return token


# ------------------------------------------------------------------------------------------------ kept for the page

def plain(obj: Any) -> dict[str, Any]:
    """A frozen dataclass (`Member`, `Where`) as JSON-able values."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, frozenset | set):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


T = TypeVar("T")


def revive(cls: type[T], data: dict[str, Any]) -> T:
    """`plain`'s reverse; fields the class no longer has are dropped, new ones take their defaults."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        if isinstance(value, list):
            value = frozenset(value) if isinstance(f.default, frozenset) else tuple(value)
        values[f.name] = value
    return cls(**values)


@dataclass(frozen=True)
class Image:
    """The upscaled image a link's page shows: where it is fetched from (`hosts`: where that may be) and what it is,
    read from its header without downloading it whole."""

    url: str
    hosts: frozenset[str]
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Opened:
    """A usable link: its token, its row, and the finished job it varies."""

    token: Token
    session: RegionSession
    member: Member
    where: Where
    source: JobRecord


class ImageUnavailable(UserError):
    """The image can't be fetched just now (network trouble, its server answered 5xx or 429): it may work later."""

    def __init__(self) -> None:
        super().__init__("I couldn't fetch the upscaled image to show it here just now. The link stays good for its "
                         "15 minutes: reload this page in a moment.")


NOT_SHOWN = {  # why an image can never be shown in the editor
    "large": f"it is larger than the {SHOWN_MAX_MB} MB the editor shows",
    "gone": "its file is no longer available",
    "unreadable": "its file isn't an image I can read",
}


class ImageNotShown(UserError):
    """The image can never be shown in the editor (`reason`: a key of NOT_SHOWN). The next press of Vary (Region)
    under it offers the 3x3 cell picker, which needs no image."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"I can't show this image in the region editor: {NOT_SHOWN[reason]}. Press **Vary (Region)** "
                         "under the upscaled image in Discord again to pick the regions to redraw from a 3×3 grid "
                         "instead.")
        self.reason = reason


class MemberUnchecked(UserError):
    """Discord couldn't be asked who the member is now: nothing is started on the word of an old snapshot."""

    def __init__(self) -> None:
        super().__init__("I couldn't check with Discord that you may still use the bot in this server, so I started "
                         "nothing and nothing was charged. The link stays good for its 15 minutes: send the regions "
                         "again in a moment.")


NOT_A_MEMBER = ("You're no longer a member of the server this image was made in, so this link can't start a job. "
                "Nothing was charged.")


class Upstream:
    """The image's body as its server sends it, at most SHOWN_MAX_BYTES (`length`: as declared, when that is the
    length of what `chunks` yields)."""

    def __init__(self, resp: httpx.Response, length: int | None, too_large: Callable[[], None]) -> None:
        self._resp = resp
        self.length = length
        self._too_large = too_large

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The body; raises `ImageNotShown` past the cap, `ImageUnavailable` when the transfer breaks."""
        size = 0
        try:
            async for chunk in self._resp.aiter_bytes():
                size += len(chunk)
                if size > SHOWN_MAX_BYTES:
                    self._too_large()
                    raise ImageNotShown("large")
                yield chunk
        except httpx.HTTPError as e:
            log.info("region editor: the image's transfer broke (%s)", type(e).__name__)
            raise ImageUnavailable() from None


# ------------------------------------------------------------------------------------------------ the editor

class RegionEditor:
    def __init__(self, *, settings: Settings, meta: MetaRepo, sessions: RegionSessionRepo, launcher: Launcher,
                 jobs: JobRepo, member_settings: SettingsRepo, http: httpx.AsyncClient,
                 attachment_url: AttachmentUrl, fetch_member: FetchMember) -> None:
        self.public_url = settings.web.public_url.rstrip("/")
        self.settings = settings
        self.meta = meta
        self.sessions = sessions
        self.launcher = launcher
        self.jobs = jobs
        self.member_settings = member_settings
        self.http = http
        self.attachment_url = attachment_url
        self.fetch_member = fetch_member
        self.ttl_s = TOKEN_TTL_S
        self._secret: bytes | None = None
        self._images: OrderedDict[str, Image] = OrderedDict()
        self._not_shown: OrderedDict[tuple[str, int], str] = OrderedDict()  # (job id, image number) -> why

    async def start(self) -> None:
        """The signing secret: made once, kept in the database (links outlive a restart)."""
        kept = await self.meta.get(SECRET_KEY)
        if not kept:
            kept = secrets.token_hex(32)
            await self.meta.set(SECRET_KEY, kept)
        self._secret = bytes.fromhex(kept)

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            raise RuntimeError("RegionEditor.start() was not awaited")
        return self._secret

    def link(self, token: str) -> str:
        return f"{self.public_url}/{ROUTE}/{token}"

    # ---- the press ----------------------------------------------------------------------------------------

    async def new_link(self, cid: CustomId, member: Member, where: Where) -> str | None:
        """A fresh link for `member` to vary image `cid.index` of `cid.job_id`, the result shown at `where`; None
        when the public URL is too long for a link button, or the image is known not to show in the editor (the cell
        picker is offered instead)."""
        if (cid.job_id, cid.index) in self._not_shown:
            log.info("region editor: that image can't be shown; offering the cell picker")
            return None
        token = Token(secrets.token_urlsafe(12), cid.job_id, cid.index, member.id, int(time.time() + self.ttl_s))
        url = self.link(sign(self.secret, token))
        if len(url) > LINK_MAX:
            log.warning("web.public_url is too long for a Discord link button; offering the cell picker")
            return None
        # the member's "thinking…" answer is not used: the page says where the result goes
        kept_where = dataclasses.replace(where, answer_to=None)
        await self.sessions.create(token.token_id, job_id=token.job_id, image_no=token.index, member_id=member.id,
                                   member=plain(member), where=plain(kept_where), expires_at=token.expires_at)
        return url

    async def offer(self, interaction: discord.Interaction[Any], cid: CustomId, member: Member,
                    where: Where) -> bool:
        """Answer the press with the editor's link (ephemeral); False when only the cell picker can be offered."""
        url = await self.new_link(cid, member, where)
        if url is None:
            return False
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, url=url, label="Open the region editor",
                                        emoji="🖌️"))
        await interaction.response.send_message(
            "**Vary (Region)**: mark the parts of the image to redraw and say what goes there. The link is yours "
            "alone (don't share it), works for 15 minutes and starts one job.",
            view=view, ephemeral=True, allowed_mentions=NO_PINGS,
        )
        return True

    # ---- the page -----------------------------------------------------------------------------------------

    async def open(self, value: str) -> Opened:
        """The link's state, if it can still be submitted: `Refused` (invalid, expired, used) or the `UserError`
        of a job that can no longer be varied. Costs no API call."""
        token = verify(self.secret, value, time.time())
        session = await self.sessions.get(token.token_id)
        if session is None or (session.job_id, session.image_no, session.member_id) != (
                token.job_id, token.index, token.member_id):
            raise Refused("invalid")
        if session.used_at is not None:
            raise Refused("used")
        member = revive(Member, session.member)
        where = revive(Where, session.where)
        source = await self.launcher.follow_up_source(session.job_id, member, guild_id=where.guild_id)
        A.check_offered(A.action_for("vary_region"), source, session.image_no)
        return Opened(token, session, member, where, source)

    async def image(self, opened: Opened) -> Image:
        """The upscaled image the link varies: the API's copy, else the one re-hosted in Discord, as found from its
        header (its size is kept with the link: the mask's coordinates are checked against it). Raises
        `ImageNotShown` when it can never be shown, `ImageUnavailable` when it may be later."""
        tid = opened.token.token_id
        cached = self._images.get(tid)
        if cached is not None:
            self._images.move_to_end(tid)
            return cached
        why = self._not_shown.get((opened.session.job_id, opened.session.image_no))
        if why is not None:
            raise ImageNotShown(why)
        image = await self._find(opened)
        if (opened.session.image_width, opened.session.image_height) != (image.width, image.height):
            await self.sessions.set_image_size(tid, image.width, image.height)
        self._images[tid] = image
        while len(self._images) > _CACHE_ENTRIES:
            self._images.popitem(last=False)
        return image

    def not_shown(self, opened: Opened, reason: str) -> None:
        """Remember that the link's image can never be shown (the next press offers the cell picker)."""
        key = (opened.session.job_id, opened.session.image_no)
        self._not_shown[key] = reason
        self._not_shown.move_to_end(key)
        while len(self._not_shown) > _NOT_SHOWN_ENTRIES:
            self._not_shown.popitem(last=False)
        self._images.pop(opened.token.token_id, None)

    @contextlib.asynccontextmanager
    async def stream(self, opened: Opened, image: Image) -> AsyncIterator[Upstream]:
        """The image's body, fetched again for the browser and passed on as it arrives (never kept whole). Raises
        `ImageUnavailable` / `ImageNotShown` before anything is yielded, or from `Upstream.chunks`."""
        if not host_allowed(image.url, image.hosts):
            raise ImageNotShown("gone")
        try:
            async with self.http.stream("GET", image.url, timeout=IMAGE_TIMEOUT_S, follow_redirects=False) as resp:
                if resp.status_code != 200:
                    log.info("region editor: the image's server answered %d", resp.status_code)
                    self._images.pop(opened.token.token_id, None)  # the next page load looks for it again
                    raise ImageUnavailable()
                length = _declared_length(resp)
                if length is not None and length > SHOWN_MAX_BYTES:
                    self.not_shown(opened, "large")
                    raise ImageNotShown("large")
                yield Upstream(resp, length, lambda: self.not_shown(opened, "large"))
        except httpx.HTTPError as e:
            log.info("region editor: fetching the image failed (%s)", type(e).__name__)
            raise ImageUnavailable() from None

    async def _upscale(self, opened: Opened) -> JobRecord | None:
        message_id = opened.where.reply_to_id or await self.jobs.upscale_message(opened.session.job_id,
                                                                                 opened.session.image_no)
        job = await self.jobs.by_message(message_id) if message_id is not None else None
        if (job is None or job.task_type not in UPSCALE_TASKS or job.parent_job_id != opened.session.job_id
                or job.image_no != opened.session.image_no or job.status != JobStatus.COMPLETED):
            return None
        return job

    async def _find(self, opened: Opened) -> Image:
        api_host = urlsplit(self.settings.legnext.base_url).hostname
        upscale = await self._upscale(opened)
        if upscale is None:
            self.not_shown(opened, "gone")
            raise ImageNotShown("gone")
        reasons: list[str] = []
        passing = False  # some failure may pass

        async def attempt(url: str, hosts: frozenset[str]) -> Image | None:
            nonlocal passing
            try:
                got = await self._probe(url, hosts)
            except DownloadFailed as e:
                log.info("region editor: %s", e)
                passing = True
                return None
            if isinstance(got, str):
                reasons.append(got)
                return None
            return got

        for url in result_urls(upscale)[:1]:
            image = await attempt(url, frozenset(h for h in [api_host] if h))
            if image is not None:
                return image
        where = opened.where
        if upscale.message_id is not None and where.channel_id is not None:
            attached: str | None = None
            try:
                attached = await self.attachment_url(where.channel_id, upscale.message_id)
            except discord.NotFound:
                log.info("region editor: the upscaled image's message is gone")
            except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as e:
                log.info("region editor: could not read the upscaled image's message: %s", e)
                passing = True
            if attached is not None:
                discord_hosts = {"cdn.discordapp.com", "media.discordapp.net"}
                if self.settings.discord.api_base_url:  # a Discord proxy (or the tests' fake) serves its own files
                    discord_hosts.add(urlsplit(self.settings.discord.api_base_url).hostname or "")
                image = await attempt(attached, frozenset(discord_hosts - {""}))
                if image is not None:
                    return image
        if passing:
            raise ImageUnavailable()
        reason = next((r for r in ("large", "unreadable") if r in reasons), "gone")
        log.info("region editor: the upscaled image can't be shown (%s)", reason)
        self.not_shown(opened, reason)
        raise ImageNotShown(reason)

    async def _probe(self, url: str, hosts: frozenset[str]) -> Image | str:
        """The image at `url`, read from its header (the rest is not downloaded), or why it can never be shown (a
        key of NOT_SHOWN). Raises `DownloadFailed` when it may work later."""
        if not host_allowed(url, hosts):
            log.warning("region editor: not fetching an image from an unexpected host")
            return "gone"
        head = b""
        try:
            async with self.http.stream("GET", url, timeout=IMAGE_TIMEOUT_S, follow_redirects=False) as resp:
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise DownloadFailed(f"the image's server answered {resp.status_code}")
                if resp.status_code != 200:
                    log.info("region editor: the image's server answered %d", resp.status_code)
                    return "gone"
                length = _declared_length(resp)
                if length is not None and length > SHOWN_MAX_BYTES:
                    return "large"
                async for chunk in resp.aiter_bytes():
                    head += chunk
                    if sniff(head) is not None or len(head) >= HEADER_MAX_BYTES:
                        break
        except httpx.HTTPError as e:
            raise DownloadFailed(f"fetching the image failed ({type(e).__name__})") from None
        found = sniff(head)
        if found is None:
            log.info("region editor: the upscaled image is not a readable image")
            return "unreadable"
        ctype, (width, height) = found
        return Image(url, hosts, ctype, width, height)

    # ---- the submission -----------------------------------------------------------------------------------

    async def submit(self, value: str, body: Any) -> JobRecord:
        """Check the link, the regions and the prompt, then start the inpaint through the launcher. Raises
        `Refused`, a `UserError` / `PromptError` (nothing started, the link stays good), or what the launcher
        raises once the job may have reached the API (the link is then used)."""
        opened = await self.open(value)
        if not isinstance(body, dict):
            raise BadInput("The page sent something I can't read; reload it.")
        width, height = opened.session.image_width, opened.session.image_height
        if width is None or height is None:
            raise BadInput("The page hasn't shown the image yet; reload it.")
        space = mask_space(width, height)
        if (body.get("width"), body.get("height")) != space:
            raise BadInput("The regions were drawn on an image of another size; reload the page.")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise BadInput("Say what goes in the marked regions: the prompt can't be empty.")
        if len(prompt) > PROMPT_MAX:
            raise BadInput(f"The prompt is too long ({len(prompt)} characters; at most {PROMPT_MAX}).")
        try:
            mask = check_areas(body.get("areas"), *space)
        except ValueError as e:
            raise BadInput(str(e)) from None
        # who the member is now, not at the press: a role taken away (or a member gone) since then counts
        member = await self.member_now(opened)
        source = await self.launcher.follow_up_source(opened.session.job_id, member, guild_id=opened.where.guild_id)
        A.check_offered(A.action_for("vary_region"), source, opened.session.image_no)
        settings = await self.member_settings.get(member.id)
        what = A.press_launch("vary_region", source, opened.session.image_no, settings,
                              remix_prompt=prompt, mask=mask)
        if not await self.sessions.claim(opened.token.token_id):
            raise Refused("used")  # a concurrent submission of the same link won
        try:
            job = await self.launcher.launch(what, member, opened.where)
        except (SubmitOutcomeUnknown, SubmittedButUnrecorded):
            raise  # it may have reached the API: the link stays used
        except (UserError, PromptError, LegnextError):
            await self.sessions.release(opened.token.token_id)  # refused before anything was charged
            raise
        await self.sessions.started(opened.token.token_id, job.id)
        self._images.pop(opened.token.token_id, None)
        return job

    async def member_now(self, opened: Opened) -> Member:
        """The member as Discord knows them now (REST: the bot has no members intent): their roles and whether they
        moderate (Manage Server, or a moderator role). `NotAllowed` when they left the server; `MemberUnchecked`
        when Discord can't be asked (the snapshot of the press is never trusted instead)."""
        guild_id = opened.where.guild_id
        if guild_id is None:  # a DM: no server, no roles
            return opened.member
        try:
            async with asyncio.timeout(DISCORD_TIMEOUT_S):
                found = await self.fetch_member(guild_id, opened.member.id)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as e:
            log.info("region editor: could not ask Discord about the member (%s)", type(e).__name__)
            raise MemberUnchecked() from None
        if found is None:
            log.info("region editor: the member left the server since the press")
            raise NotAllowed(NOT_A_MEMBER)
        return member_with(found, found.guild_permissions.manage_guild, self.settings.moderation.moderator_role_ids)


_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"),
          (b"\xff\xd8", "image/jpeg"))


def sniff(head: bytes) -> tuple[str, tuple[int, int]] | None:
    """The type (from its first bytes, never from what a server says) and size of an image whose file starts with
    `head`, or None when `head` isn't (or isn't yet enough of) a PNG, JPEG, WebP or GIF."""
    size = image_size(head)
    if size is None:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", size
    ctype = next((t for magic, t in _MAGIC if head.startswith(magic)), None)
    return (ctype, size) if ctype is not None else None


def _declared_length(resp: httpx.Response) -> int | None:
    """The body's length as its server declares it, when that is what httpx yields (no content coding)."""
    declared = resp.headers.get("content-length", "")
    coding = resp.headers.get("content-encoding", "identity").strip().lower()
    return int(declared) if declared.isdigit() and coding in ("", "identity") else None


def started_sentence(job: JobRecord) -> tuple[str, str | None]:
    """What the page says once the job started (or was queued), and the link to its message in Discord."""
    if job.status == JobStatus.QUEUED:
        position = f" (position {job.queue_position})" if job.queue_position else ""
        text = (f"Queued{position}: your job starts when it's your turn, and nothing is charged until then. The "
                "result will appear in the channel as a reply to your upscaled image.")
    else:
        text = "Started: your job is running. The result will appear in the channel as a reply to your upscaled image."
    return text, message_link(job)
