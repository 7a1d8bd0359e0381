"""Domain errors, and the one place where any error becomes the sentence a member reads."""

from __future__ import annotations

from enum import Enum

from bot.legnext import errors as api


class UserError(Exception):
    """An error whose message is already the member-facing sentence."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class NotAllowed(UserError):
    """The member may not do this (not the requester, not a moderator, ...)."""


class TooManyJobs(UserError):
    pass


class Expired(UserError):
    def __init__(self) -> None:
        super().__init__(
            "This image has expired: Legnext accepts follow-ups only for 3 days after a job. "
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


class Alert(Enum):
    """Things moderators are told about in the alert channel."""

    OUT_OF_CREDITS = "out_of_credits"
    BAD_KEY = "bad_key"


def user_message(exc: BaseException) -> str:
    """The sentence a member sees for `exc`. Never contains a secret; never empty."""
    from bot.prompt import PromptError  # local import keeps this module importable on its own

    if isinstance(exc, UserError):
        return exc.sentence
    if isinstance(exc, PromptError):
        return str(exc)
    if isinstance(exc, api.InvalidRequest):
        return f"That request isn't valid ({exc.message}). Nothing was charged."
    if isinstance(exc, api.AuthError):
        return (
            "The bot is misconfigured: Legnext refused its API key. The moderators have been told; "
            "nothing was charged."
        )
    if isinstance(exc, api.OutOfCredits):
        return (
            "The server's Legnext balance has run out, so no new jobs can start. "
            "The moderators have been told."
        )
    if isinstance(exc, api.ContentRefused):
        detail = _short(exc.message)
        why = f" ({detail})" if detail else ""
        return f"Your prompt was refused by Legnext's content filter{why}. Nothing was charged."
    if isinstance(exc, api.NotFound):
        return (
            "Legnext no longer has that image (follow-ups work for 3 days after a job). "
            "Run `/imagine` again to keep going."
        )
    if isinstance(exc, api.TooLarge):
        return "That file is too large for Legnext. Try a smaller image."
    if isinstance(exc, api.RateLimited):
        return "Legnext is busy with too many jobs at once. Please try again in a minute."
    if isinstance(exc, api.SubmitOutcomeUnknown):
        return (
            "Legnext didn't confirm the job, so it may or may not have started (and been charged). "
            "It was not sent again, to avoid paying twice; run it again yourself if you still want it."
        )
    if isinstance(exc, api.ServerError | api.TransportError | api.UnexpectedResponse):
        return "Legnext isn't answering properly right now. Please try again in a few minutes."
    if isinstance(exc, api.BadRequest):
        detail = _short(exc.message)
        return f"Legnext rejected the request{f' ({detail})' if detail else ''}. Nothing was charged."
    return "Something went wrong on the bot's side. It has been logged; please try again."


def alert_for(exc: BaseException) -> Alert | None:
    if isinstance(exc, api.OutOfCredits):
        return Alert.OUT_OF_CREDITS
    if isinstance(exc, api.AuthError):
        return Alert.BAD_KEY
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
