"""What a server allows: its limits (the `[limits]` defaults with a moderator's changes), who may start jobs where,
banned words, daily budgets and the fair queue's order. Pure: no I/O, no Discord.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.config import LimitsConfig
from bot.core.errors import UserError
from bot.core.text import strip_invisible

DAY_S = 86400
# what /limits may change (and a moderator's changes stored per server); the rest comes from the config file
CHANGEABLE = ("running_per_member", "queued_per_member", "member_daily_points", "server_daily_points", "paused")


@dataclass(frozen=True)
class Limits:
    running_per_member: int = 3
    queued_per_member: int = 10
    member_daily_points: int = 0  # 0 = no limit
    server_daily_points: int = 0
    allowed_role_ids: frozenset[int] = frozenset()
    allowed_channel_ids: frozenset[int] = frozenset()
    banned_words: tuple[str, ...] = ()
    paused: bool = False

    @staticmethod
    def of(defaults: LimitsConfig, changes: Mapping[str, Any] | None = None) -> Limits:
        """The file's defaults with a server's own changes (unknown or ill-typed keys in `changes` are ignored)."""
        limits = Limits(
            running_per_member=defaults.running_per_member, queued_per_member=defaults.queued_per_member,
            member_daily_points=defaults.member_daily_points, server_daily_points=defaults.server_daily_points,
            allowed_role_ids=frozenset(defaults.allowed_role_ids),
            allowed_channel_ids=frozenset(defaults.allowed_channel_ids),
            banned_words=tuple(defaults.banned_words), paused=defaults.paused,
        )
        return limits.changed(changes or {})

    def changed(self, changes: Mapping[str, Any]) -> Limits:
        ok: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in CHANGEABLE:
                continue
            if isinstance(getattr(self, key), bool):
                if isinstance(value, bool):
                    ok[key] = value
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                ok[key] = value
        if ok.get("running_per_member") == 0:
            ok["running_per_member"] = 1
        return replace(self, **ok)

    @property
    def unfinished_per_member(self) -> int:
        """A member's jobs running plus waiting: one more is refused."""
        return self.running_per_member + self.queued_per_member


# ------------------------------------------------------------------------------------------------ refusals


class Paused(UserError):
    def __init__(self) -> None:
        super().__init__("The moderators have paused new jobs in this server for now. Jobs already running or "
                         "queued go on. Nothing was started or charged.")


class NotPermitted(UserError):
    """The member's roles or the channel are not among those allowed."""


class BannedWord(UserError):
    def __init__(self, word: str) -> None:
        super().__init__(f"Your prompt contains a word this server doesn't allow (**{word}**). Please remove it; "
                         "nothing was started or charged.")
        self.word = word


class OverBudget(UserError):
    """A daily budget (the member's or the server's) would be exceeded."""

    def __init__(self, whose: str, limit: int, used: int, cost: int, now: float) -> None:
        left = max(0, limit - used)
        super().__init__(
            f"That would go over {whose} daily limit of {limit} points: {used} used today, {left} left, and this "
            f"job needs {cost}. It resets at midnight UTC ({until_reset(now)}). Nothing was started or charged."
        )
        self.limit = limit


class QueueFull(UserError):
    def __init__(self, limits: Limits) -> None:
        super().__init__(
            f"You already have {limits.running_per_member} running and {limits.queued_per_member} waiting, "
            "which is this server's limit per member. Please wait for one to finish, or cancel a waiting one "
            "(its **Cancel** button). Nothing was started or charged."
        )


def check_allowed(limits: Limits, *, is_moderator: bool, roles: Iterable[int], channel_ids: Iterable[int]) -> None:
    """Paused, roles and channels. `channel_ids`: the channel and, in a thread, its parent. Moderators may always
    start jobs (a moderator can try a paused server or any channel)."""
    if is_moderator:
        return
    if limits.paused:
        raise Paused()
    if limits.allowed_role_ids and not limits.allowed_role_ids & set(roles):
        raise NotPermitted("This server lets only members with certain roles use the bot, and you don't have one "
                           "of them. Ask a moderator if you think you should.")
    if limits.allowed_channel_ids and not limits.allowed_channel_ids & set(channel_ids):
        where = ", ".join(f"<#{c}>" for c in sorted(limits.allowed_channel_ids)[:5])
        raise NotPermitted(f"The bot can't be used in this channel. Please use {where}.")


# Letters from other scripts that look like Latin ones (Unicode TR39's confusables, the ones a member would reach
# for): `gоre` with a Cyrillic о reads `gore`.
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ɡ": "g", "ɑ": "a", "ı": "i", "ȷ": "j", "ℓ": "l",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ϲ": "c",
    "0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
})
# Scripts written without spaces between words: a banned word in them is found anywhere in the text.
_NO_SPACES = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u0e80-\u0eff"
                        r"\u1000-\u109f\u1780-\u17ff\uac00-\ud7af]")


def _fold(text: str, *, lookalikes: bool = False) -> str:
    """Case- and width-insensitive, without invisible characters or accents: `ＢａＮ`, `b\u200ban`, `ba\u034fn`
    and `bán` all read `ban` (and with `lookalikes`, `bаn` with a Cyrillic а too)."""
    text = unicodedata.normalize("NFKD", strip_invisible(text))
    text = "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Me", "Cf")
                   and not 0xFE00 <= ord(c) <= 0xFE0F and not 0xE0100 <= ord(c) <= 0xE01EF).casefold()
    return text.translate(_LOOKALIKES) if lookalikes else text


def banned_word_in(words: Sequence[str], texts: Iterable[str]) -> str | None:
    """The first banned word found in `texts` as a whole word (any case, accents, invisible characters and
    lookalike letters ignored), else None. Words in scripts written without spaces (Chinese, Japanese, Thai, ...)
    are found anywhere."""
    if not words:
        return None
    plain = [_fold(t) for t in texts if t]
    alike = [_fold(t, lookalikes=True) for t in texts if t]
    for word in words:
        w = _fold(word).strip()
        if not w:
            continue
        if _NO_SPACES.search(w):
            if any(w in t for t in plain):
                return word
            continue
        parts = w.split()
        pattern = re.compile(r"(?<!\w)" + r"\s+".join(re.escape(p) for p in parts) + r"(?!\w)")
        loose = re.compile(r"(?<!\w)" + r"\s+".join(re.escape(p.translate(_LOOKALIKES)) for p in parts)
                           + r"(?!\w)")
        if any(pattern.search(t) for t in plain) or any(loose.search(t) for t in alike):
            return word
    return None


def prompts_of(body: Mapping[str, Any]) -> list[str]:
    """The prompts a request sends: its text, prompt and remix prompt."""
    return [str(body[k]) for k in ("text", "prompt", "remixPrompt") if isinstance(body.get(k), str)]


# ------------------------------------------------------------------------------------------------ days


def day_start(now: float) -> float:
    """Unix time of the UTC midnight that began `now`'s day."""
    return float(int(now) // DAY_S * DAY_S)


def until_reset(now: float) -> str:
    """`in 5 h 12 min` until the next UTC midnight."""
    left = int(day_start(now) + DAY_S - now)
    hours, minutes = divmod(max(60, left) // 60, 60)
    return f"in {hours} h {minutes} min" if hours else f"in {minutes} min"


def utc_date(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%d")


# ------------------------------------------------------------------------------------------------ fair queue


@dataclass(frozen=True)
class Waiting:
    """A queued job as the queue sees it."""

    id: int
    member: int
    guild: int | None
    requeued: bool = False


def fair_order(waiting: Sequence[Waiting], last_served: Mapping[tuple[int, int | None], float]) -> list[int]:
    """The order in which `waiting` jobs (ids ascending = arrival) would be sent if every member could run: jobs
    put back after a 429 first, then one job per member in turn, the member served longest ago (or never) first."""
    first = [w.id for w in sorted(waiting, key=lambda w: w.id) if w.requeued]
    rest = [w for w in sorted(waiting, key=lambda w: w.id) if not w.requeued]
    lanes: dict[tuple[int, int | None], list[int]] = {}
    for w in rest:
        lanes.setdefault((w.member, w.guild), []).append(w.id)
    # members served longest ago first; a member never served before anyone served; ties by their first job
    turn = sorted(lanes, key=lambda k: (last_served.get(k, 0.0), lanes[k][0]))
    order = list(first)
    depth = 0
    while True:
        row = [lanes[k][depth] for k in turn if depth < len(lanes[k])]
        if not row:
            return order
        order.extend(row)
        depth += 1
