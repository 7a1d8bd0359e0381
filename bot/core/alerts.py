"""The moderators' alerts about the Legnext account, and what the balance buys. No Discord here: the watch posts
through a callable it is given (the presenter's `post_alert`).

The rules (pure functions below, applied by `AlertWatch`):
- **Low balance**: with `moderation.balance_alert_points` > 0, a balance check reading fewer spendable points
  (available credits + available points: what the account can still spend, 1,000 per USD) than that posts one
  alert; nothing more until a check reads at least that many again (then the next fall alerts again). A check
  whose answer holds no readable figures (an error code in the body, a figure missing) decides nothing.
- **Refused by the API**: the first 401 (key refused) and the first 402 (out of credits) seen on any request post one
  alert each. A 401 is over once any request is answered 2xx (the key works again); a 402 once a submit is accepted
  (a status read answering 200 says nothing about credits, and running jobs keep being read while submits fail).
- An alert Discord did not accept (no access to the channel, an outage) stays owed and is tried again later; an owed
  alert whose condition is over is dropped. The state and the owed alerts are kept in `meta` across restarts.
- Each alert decided carries a number (a counter kept in the state) and is posted with a nonce made from it
  (Discord's `enforce_nonce`): trying again an alert Discord made but never confirmed (a 5xx after the fact, a
  time-out, a stop mid-post) returns the message it made instead of posting a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bot.core.costs import VIDEO_480P
from bot.core.errors import Alert
from bot.core.schedule import wait_event
from bot.legnext import errors as api
from bot.legnext.models import Balance
from bot.storage.meta import MetaRepo
from bot.vocabulary import task

log = logging.getLogger(__name__)

LOW_BALANCE = "low_balance"
META_KEY = "alerts:state"
RETRY_S = 60.0  # an owed alert Discord refused is tried again after this, then twice as long each time, at least
                # every balance_check_interval_s
FIGURES_TIMEOUT_S = 10.0
REFUSED_WAIT_S = 2.0  # a member refused for a 401/402 is answered after the alert, or after this long
STOP_GRACE_S = 5.0  # a post under way at stop is given this long to be answered (else it stays owed)
NONCE_KINDS = {LOW_BALANCE: "low", Alert.BAD_KEY.value: "key", Alert.OUT_OF_CREDITS.value: "credits"}

REFUSED_TEXT = {
    Alert.OUT_OF_CREDITS: "⚠️ The Legnext balance has run out: members can't start new jobs until it is topped up.",
    Alert.BAD_KEY: "⚠️ Legnext refused the bot's API key (legnext.api_key / LEGNEXT_API_KEY). "
                   "Members can't start jobs until it is fixed.",
}


# ------------------------------------------------------------------------------------------------ what points buy

@dataclass(frozen=True)
class Buys:
    imagines: int
    upscales: int
    videos_480p: int


def what_it_buys(points: int) -> Buys:
    """About how many jobs `points` pay for at the cost table (fast mode): imagines, subtle upscales, 480p videos."""
    p = max(0, points)
    return Buys(p // task("diffusion").cost, p // task("upscale").cost, p // VIDEO_480P)


def buys_text(points: int) -> str:
    b = what_it_buys(points)
    return (f"about {b.imagines:,} imagine{_s(b.imagines)}, or {b.upscales:,} upscale{_s(b.upscales)}, "
            f"or {b.videos_480p:,} 480p video{_s(b.videos_480p)}")


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# ------------------------------------------------------------------------------------------------ the state

@dataclass(frozen=True)
class Notice:
    """An alert decided on. `kind`: LOW_BALANCE or an `Alert` value. Figures when known (`points`: spendable
    points). `seq` numbers it among the alerts decided (its nonce); it is not part of what the alert says."""

    kind: str
    points: int | None = None
    threshold: int | None = None
    usd: float | None = None
    seq: int = field(default=0, compare=False)


@dataclass(frozen=True)
class AlertState:
    low: bool = False            # the last check read fewer points than the threshold (and that was alerted)
    bad_key: bool = False        # a 401 was seen, and no request answered 2xx since
    out_of_credits: bool = False  # a 402 was seen, and no submit accepted since
    owed: tuple[Notice, ...] = field(default_factory=tuple)  # decided, not yet accepted by Discord
    seq: int = field(default=0, compare=False)  # alerts decided so far (each crossing: one more); names the nonces


def _decide(state: AlertState, notice: Notice, **flags: bool) -> tuple[AlertState, Notice]:
    """A new alert: numbered, owed, and the flag that makes it once per crossing set."""
    seq = state.seq + 1
    notice = replace(notice, seq=seq)
    return replace(state, owed=(*state.owed, notice), seq=seq, **flags), notice


def alert_nonce(notice: Notice) -> str:
    """The nonce the alert is posted with (at most Discord's 25 characters): the same on every try of one alert,
    another for the next crossing."""
    return f"mja{notice.seq % 10**12}-{NONCE_KINDS.get(notice.kind, 'x')}"


def after_balance(state: AlertState, points: int, threshold: int, usd: float | None = None
                  ) -> tuple[AlertState, Notice | None]:
    """A balance check read `points` spendable points (credits + points); `threshold` is `balance_alert_points`
    (0 = off)."""
    if threshold <= 0:
        return _clear(state, low=False), None
    if points < threshold:
        if state.low:
            return state, None
        return _decide(state, Notice(LOW_BALANCE, points, threshold, usd), low=True)
    return _clear(state, low=False), None


def after_answer(state: AlertState, method: str, status: int) -> tuple[AlertState, Notice | None]:
    """The API answered a request with HTTP `status` (0: no answer)."""
    if status == 401:
        if state.bad_key:
            return state, None
        return _decide(state, Notice(Alert.BAD_KEY.value), bad_key=True)
    if status == 402:
        if state.out_of_credits:
            return state, None
        return _decide(state, Notice(Alert.OUT_OF_CREDITS.value), out_of_credits=True)
    if 200 <= status < 300:
        if not state.bad_key and not state.out_of_credits:  # the usual case, on every request
            return state, None
        return _clear(state, bad_key=False, out_of_credits=state.out_of_credits and method.upper() != "POST"), None
    return state, None


def after_refusal(state: AlertState, kind: Alert) -> tuple[AlertState, Notice | None]:
    """A request failed with this refusal (as raised to a caller): the same as seeing its status."""
    return after_answer(state, "", 401 if kind is Alert.BAD_KEY else 402)


def sent(state: AlertState, notice: Notice) -> AlertState:
    """Discord accepted the alert."""
    return replace(state, owed=tuple(n for n in state.owed if n != notice))


def _clear(state: AlertState, *, low: bool | None = None, bad_key: bool | None = None,
           out_of_credits: bool | None = None) -> AlertState:
    """Set flags; an owed alert whose condition is over is dropped."""
    new = replace(state, low=state.low if low is None else low,
                  bad_key=state.bad_key if bad_key is None else bad_key,
                  out_of_credits=state.out_of_credits if out_of_credits is None else out_of_credits)
    over = {kind for kind, on in ((LOW_BALANCE, new.low), (Alert.BAD_KEY.value, new.bad_key),
                                  (Alert.OUT_OF_CREDITS.value, new.out_of_credits)) if not on}
    return replace(new, owed=tuple(n for n in new.owed if n.kind not in over))


def dump_state(state: AlertState) -> str:
    return json.dumps({
        "low": state.low, "bad_key": state.bad_key, "out_of_credits": state.out_of_credits, "seq": state.seq,
        "owed": [{"kind": n.kind, "points": n.points, "threshold": n.threshold, "usd": n.usd, "seq": n.seq}
                 for n in state.owed],
    }, sort_keys=True)


def load_state(text: str | None) -> AlertState:
    """The stored state; anything unreadable is the empty state (at worst one alert is repeated)."""
    try:
        raw: Any = json.loads(text or "{}")
    except ValueError:
        return AlertState()
    if not isinstance(raw, dict):
        return AlertState()
    kinds = {LOW_BALANCE, *(a.value for a in Alert)}
    owed: list[Notice] = []
    for n in raw.get("owed") or []:
        if isinstance(n, dict) and n.get("kind") in kinds:
            owed.append(Notice(str(n["kind"]), _int(n.get("points")), _int(n.get("threshold")), _float(n.get("usd")),
                               seq=max(0, _int(n.get("seq")) or 0)))
    seq = max([_int(raw.get("seq")) or 0, *(n.seq for n in owed)])
    return AlertState(low=raw.get("low") is True, bad_key=raw.get("bad_key") is True,
                      out_of_credits=raw.get("out_of_credits") is True, owed=tuple(owed), seq=max(0, seq))


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


# ------------------------------------------------------------------------------------------------ the sentences

def notice_text(notice: Notice) -> str:
    """The alert as posted: it names the figures it has, and holds no mention (posted with pings off anyway)."""
    usd = f" (${notice.usd:,.2f})" if notice.usd is not None else ""
    if notice.kind == LOW_BALANCE and notice.points is not None:
        return (f"⚠️ The Legnext balance is low: **{notice.points:,}** spendable points left{usd}, below the alert "
                f"threshold of {notice.threshold or 0:,} points (moderation.balance_alert_points; spendable points "
                f"are the credits plus the bonus points). That buys {buys_text(notice.points)}. Top up the Legnext "
                "account to keep jobs running.")
    text = REFUSED_TEXT[Alert(notice.kind)] if notice.kind in {a.value for a in Alert} else "⚠️ Legnext alert."
    if notice.points is not None:
        text += f" Available: **{notice.points:,}** spendable points{usd}."
    return text


def balance_failure(exc: BaseException) -> str:
    """What a moderator reads when /balance could not read the balance. Never holds the key."""
    if isinstance(exc, api.AuthError):
        return ("Legnext refused the bot's API key, so the balance can't be read. The operator must check "
                "legnext.api_key (or LEGNEXT_API_KEY).")
    if isinstance(exc, api.OutOfCredits):
        return "Legnext answered that the account is out of credits (HTTP 402). Top it up on legnext.ai."
    if isinstance(exc, TimeoutError):
        return "Legnext didn't answer in time, so the balance can't be shown. Try `/balance` again in a few minutes."
    if isinstance(exc, api.ServerError | api.TransportError | api.RateLimited):
        return "Legnext isn't answering properly right now. Try `/balance` again in a few minutes."
    if isinstance(exc, api.UnexpectedResponse):
        return ("Legnext answered, but the bot couldn't read the balance from its answer. Try `/balance` again in "
                "a few minutes.")
    status = getattr(exc, "status", 0)
    return f"Legnext didn't give the balance{f' (HTTP {status})' if status else ''}. Try `/balance` again later."


# ------------------------------------------------------------------------------------------------ the watch

class AlertConfig(Protocol):
    @property
    def balance_alert_points(self) -> int: ...
    @property
    def balance_check_interval_s(self) -> float: ...


class AlertWatch:
    """Applies the rules: told of every API answer (`answered`, the client's `on_request` hook) and of refusals
    raised to members (`refused`), checks the balance every `balance_check_interval_s` (when
    `balance_alert_points` is set), and posts what is owed, trying again within `RETRY_S` when Discord refused.

    Every post runs in one background task (`_flushing`): a stop gives a post under way `STOP_GRACE_S` to be
    answered, so an alert Discord made is not left owed (and posted again after the restart)."""

    def __init__(self, *, meta: MetaRepo, read_balance: Callable[[], Awaitable[Balance]],
                 post: Callable[[str, str], Awaitable[bool]], config: AlertConfig) -> None:
        self.meta = meta
        self.read_balance = read_balance
        # post(text, nonce): True once the alert is out (Discord accepted it, or there is no channel: logged)
        self.post = post
        self.config = config
        self.state = AlertState()
        self._started = False
        self._dirty = False
        self._flush_lock = asyncio.Lock()
        self._flushing: asyncio.Task[None] | None = None
        self._loop: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._retry_at: float | None = None
        self._refused_posts = 0  # in a row

    async def start(self) -> None:
        """Read the remembered state, post what was owed before the restart, then start the periodic checks (the
        first one at once)."""
        self.state = load_state(await self.meta.get(META_KEY))
        self._started = True
        if self.state.owed:  # whether or not the low-balance check is on
            self._kick()
        self._loop = asyncio.create_task(self._run(), name="balance-watch")

    async def stop(self) -> None:
        """Stop the checks at once; a post under way gets `STOP_GRACE_S` to be answered (no new one starts)."""
        self._started = False
        loop = self._loop
        if loop is not None and not loop.done():
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        flushing = self._flushing
        if flushing is None:
            return
        if not flushing.done():
            await asyncio.wait([flushing], timeout=STOP_GRACE_S)
        if not flushing.done():
            log.warning("an alert post was still under way after %.0fs at stop; it stays owed", STOP_GRACE_S)
            flushing.cancel()
            await asyncio.wait([flushing])

    # ---- events

    def answered(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """The API client's `on_request` hook (synchronous: the decision is made here, the post is scheduled)."""
        self._apply(after_answer(self.state, method, status))

    async def refused(self, kind: Alert) -> bool:
        """A member met this refusal: the alert is owed (if it is news) and given a moment to go out before the
        member is answered (the hook has normally scheduled it already). True when the alert is out (posted now
        or before); False when it is still owed (Discord refused or was slow): the member isn't told the
        moderators know."""
        self._apply(after_refusal(self.state, kind))
        task = self._flushing
        if task is not None and not task.done():
            await asyncio.wait([task], timeout=REFUSED_WAIT_S)
        return self._started and all(n.kind != kind.value for n in self.state.owed)

    async def check(self) -> None:
        """Read the balance once and apply the low-balance rule; a failed read is only logged (a 401/402 it got
        was seen through `answered`), and an answer without readable figures decides nothing."""
        try:
            bal = await self.read_balance()
        except (api.LegnextError, TimeoutError) as e:
            log.warning("balance check failed: %r", e)
        else:
            problem = bal.problem()
            spendable = bal.data.spendable_points if problem is None else None
            if spendable is None:
                log.warning("balance check: couldn't read the balance (%s); no alert decided", problem)
            else:
                self._apply(after_balance(self.state, spendable, self.config.balance_alert_points,
                                          bal.data.balance_usd))
        await asyncio.wait([self._kick()])  # not cancelled with the caller (a stop gives a post under way time)

    # ---- machinery

    def _apply(self, outcome: tuple[AlertState, Notice | None]) -> None:
        new, notice = outcome
        if not self._started or new == self.state:
            return
        self.state = new
        if notice is not None:
            log.warning("alert: %s", notice.kind)
        self._kick()

    def _kick(self) -> asyncio.Task[None]:
        """Have the flush task go (round once more, when it is running): the one place posts are made from."""
        self._dirty = True
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self.flush(), name="alerts-flush")
            self._flushing.add_done_callback(_flushed)
        return self._flushing

    async def flush(self) -> None:
        """Store the state and post what is owed, oldest first; again while events came in meanwhile."""
        async with self._flush_lock:
            while True:
                self._dirty = False
                await self._save()
                await self._post_owed()
                if not self._dirty or not self._started:
                    return

    async def _post_owed(self) -> None:
        for owed in list(self.state.owed):
            if not self._started:  # stopping: the post under way may end, no new one starts
                return
            if owed not in self.state.owed:  # its condition ended meanwhile
                continue
            notice = await self._with_figures(owed)
            if notice not in self.state.owed or not self._started:
                continue
            if not await self.post(notice_text(notice), alert_nonce(notice)):
                self._refused_posts += 1
                if self._retry_at is None:
                    wait = RETRY_S * 2 ** min(self._refused_posts - 1, 10)
                    self._retry_at = time.monotonic() + min(wait, self.config.balance_check_interval_s)
                    self._wake.set()
                return
            self._refused_posts = 0
            self.state = sent(self.state, notice)
            await self._save()

    async def _with_figures(self, notice: Notice) -> Notice:
        """An out-of-credits alert names what is left: one balance read (a failed read posts it without)."""
        if notice.kind != Alert.OUT_OF_CREDITS.value or notice.points is not None:
            return notice
        try:
            async with asyncio.timeout(FIGURES_TIMEOUT_S):
                bal = await self.read_balance()
        except (api.LegnextError, TimeoutError) as e:
            log.info("no figures for the out-of-credits alert: %r", e)
            return notice
        spendable = bal.data.spendable_points if bal.problem() is None else None
        if spendable is None:
            log.info("no figures for the out-of-credits alert: %s", bal.problem())
            return notice
        full = replace(notice, points=spendable, usd=bal.data.balance_usd)
        self.state = replace(self.state, owed=tuple(full if n == notice else n for n in self.state.owed))
        return full

    async def _save(self) -> None:
        try:
            await self.meta.set(META_KEY, dump_state(self.state))
        except Exception as e:  # the database's trouble shows elsewhere (/healthz); the alert still goes out
            log.warning("could not store the alert state: %s", e)

    async def _run(self) -> None:
        interval = self.config.balance_check_interval_s
        next_check: float | None = time.monotonic() if self.config.balance_alert_points > 0 else None
        failures = 0  # unexpected errors in a row: the first is logged with its traceback, the next ones briefly
        while True:
            try:
                now = time.monotonic()
                if next_check is not None and now >= next_check:
                    try:
                        await self.check()
                    finally:  # whatever happened, the next check waits its interval
                        next_check = time.monotonic() + interval
                elif self._retry_at is not None and now >= self._retry_at:
                    self._retry_at = None
                    await asyncio.wait([self._kick()])
                failures = 0
            except Exception as e:
                failures += 1
                if failures == 1:
                    log.exception("the balance watch failed; it goes on")
                else:
                    log.warning("the balance watch failed again (%d in a row): %r", failures, e)
            deadlines = [t for t in (next_check, self._retry_at) if t is not None]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            self._wake.clear()
            await wait_event(self._wake, wait)


def _flushed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("posting the alerts failed; they stay owed", exc_info=exc)
