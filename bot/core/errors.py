"""Domain errors, and the one place where any error becomes the sentence a member reads."""

from __future__ import annotations

from enum import Enum

from bot.core.prompt import PromptError
from bot.core.text import clean_api_text
from bot.legnext import errors as api
from bot.vocabulary import FOLLOW_UP_WINDOW_S

WINDOW_DAYS = FOLLOW_UP_WINDOW_S // 86400

class UserError(Exception):
    """An error whose message is already the member-facing sentence."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class NotAllowed(UserError):
    """The member may not do this (not the requester, not a moderator, ...)."""


class Expired(UserError):
    def __init__(self) -> None:
        super().__init__(
            f"This image has expired: Legnext accepts follow-ups only for {WINDOW_DAYS} days after a job. "
            "Run `/imagine` again to keep going."
        )


class NotAvailable(UserError):
    """The button's action is not offered for this image or model."""


class BadInput(UserError):
    """A value the member typed (scale, URL, region, ...) is not acceptable."""


class AlreadyRequested(UserError):
    def __init__(self, link: str | None) -> None:
        where = f": {link}" if link else "."
        super().__init__(f"That was already requested for this image, so nothing new was started{where}")
        self.link = link


class BotLacksPermissions(UserError):
    def __init__(self, missing: list[str]) -> None:
        names = " and ".join(f"**{n}**" for n in missing) if len(missing) < 3 else (
            ", ".join(f"**{n}**" for n in missing[:-1]) + f" and **{missing[-1]}**")
        s = "s" if len(missing) > 1 else ""
        super().__init__(
            f"I can't show results in this channel: I'm missing the {names} permission{s} here. "
            "Ask a moderator to grant it, or use another channel. Nothing was started or charged."
        )
        self.missing = missing


class OutcomeUnknownAgain(UserError):
    """The same button's earlier job has an unknown outcome: pressing again needs an explicit confirmation."""

    def __init__(self, action: str, job_id: str, index: int, link: str | None, *, confirmable: bool = True) -> None:
        where = f" ({link})" if link else ""
        then = ("Run it again only if you accept that it may be charged twice." if confirmable else
                "To run it again anyway, change the prompt (or the zoom, or the regions).")
        super().__init__(
            f"The last time this was requested, Legnext didn't confirm whether the job started{where}, so it may "
            f"already have been charged. {then}"
        )
        self.action = action
        self.job_id = job_id
        self.index = index
        self.confirmable = confirmable


class SubmittedButUnrecorded(UserError):
    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"Your job was accepted by Legnext (job {job_id}), but the bot could not save it, so its result may not "
            "be shown here. Please don't run it again: that would be charged a second time. The bot's operator "
            "has the details in the log."
        )


class Alert(Enum):
    """Things moderators are told about in the alert channel."""

    OUT_OF_CREDITS = "out_of_credits"
    BAD_KEY = "bad_key"


def user_message(exc: BaseException, *, moderators_alerted: bool = True) -> str:
    """The sentence a member sees for `exc`. Never contains a secret; never empty. `moderators_alerted` says
    whether the alert about it is in the alert channel (only then are members told the moderators know)."""
    told = " The moderators have been told." if moderators_alerted else " Please tell a moderator."

    if isinstance(exc, UserError):
        return exc.sentence
    if isinstance(exc, PromptError):
        return str(exc)
    if isinstance(exc, api.SubmitOutcomeUnknown):
        return (
            "Legnext didn't confirm the job, so it may or may not have started (and been charged). "
            "It was not sent again, to avoid paying twice; the channel shows it as \"outcome unknown\"."
        )
    if isinstance(exc, api.InvalidRequest):
        return f"That request isn't valid ({exc.message}). Nothing was charged."
    if isinstance(exc, api.AuthError):
        return "The bot is misconfigured: Legnext refused its API key. Nothing was charged." + told
    if isinstance(exc, api.OutOfCredits):
        return "The server's Legnext balance has run out, so no new jobs can start." + told
    if isinstance(exc, api.ContentRefused):
        detail = _short(exc.message)
        why = f" ({detail})" if detail else ""
        return f"Your prompt was refused by Legnext's content filter{why}. Nothing was charged."
    if isinstance(exc, api.NotFound):
        return (
            f"Legnext no longer has that image (follow-ups work for {WINDOW_DAYS} days after a job). "
            "Run `/imagine` again to keep going."
        )
    if isinstance(exc, api.TooLarge):
        return "That file is too large for Legnext. Try a smaller image."
    if isinstance(exc, api.RateLimited):
        return "Legnext is busy with too many jobs at once. Please try again in a minute."
    if isinstance(exc, api.ServerError | api.TransportError | api.UnexpectedResponse):
        return "Legnext isn't answering properly right now. Please try again in a few minutes."
    if isinstance(exc, api.BadRequest):
        detail = _short(exc.message)
        return f"Legnext rejected the request{f' ({detail})' if detail else ''}. Nothing was charged."
    return (
        "Something went wrong on the bot's side; it has been logged. "
        "If a job was started, its result will still appear in this channel."
    )


def alert_for(exc: BaseException) -> Alert | None:
    if isinstance(exc, api.OutOfCredits):
        return Alert.OUT_OF_CREDITS
    if isinstance(exc, api.AuthError):
        return Alert.BAD_KEY
    return None


def _short(text: str, limit: int = 200) -> str:
    return clean_api_text(text, limit)
