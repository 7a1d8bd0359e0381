"""One exception class per meaning of a Legnext failure. Each carries the API's own message."""

from __future__ import annotations


class LegnextError(Exception):
    """Base class. `status` is the HTTP status (0 when no answer came back)."""

    status: int = 0

    def __init__(self, message: str = "", *, status: int | None = None, raw_message: str = "", code: int = 0) -> None:
        self.message = message or self.__class__.__name__
        self.raw_message = raw_message
        self.code = code
        if status is not None:
            self.status = status
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(status={self.status}, message={self.message!r})"


class InvalidRequest(LegnextError, ValueError):
    """The request broke a documented rule; caught before anything was sent. The message names the field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


class BadRequest(LegnextError):
    """400 / 422: the API rejected the parameters."""

    status = 400


class AuthError(LegnextError):
    """401: the API key is wrong or missing."""

    status = 401


class OutOfCredits(LegnextError):
    """402: not enough credits."""

    status = 402


class ContentRefused(LegnextError):
    """403: sensitive content, or not allowed for this account."""

    status = 403


class NotFound(LegnextError):
    """404: unknown job, or outside the 3-day follow-up window."""

    status = 404


class TooLarge(LegnextError):
    """413: the payload or file is too large."""

    status = 413


class RateLimited(LegnextError):
    """429: too many concurrent jobs or requests."""

    status = 429

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ServerError(LegnextError):
    """5xx from the API (on a read: after the retries were used up)."""

    status = 500


class TransportError(LegnextError):
    """No usable answer: connection refused, reset, or timed out."""


class SubmitOutcomeUnknown(LegnextError):
    """A submit may have reached the API (timeout after sending, 5xx) and must not be sent again.

    The job may exist and may be billed; the bot records the attempt and says so.
    """


class UnexpectedResponse(LegnextError):
    """A 2xx whose body is not what the API documents."""


STATUS_ERRORS: dict[int, type[LegnextError]] = {
    400: BadRequest,
    401: AuthError,
    402: OutOfCredits,
    403: ContentRefused,
    404: NotFound,
    413: TooLarge,
    422: BadRequest,
    429: RateLimited,
}


def error_for_status(status: int) -> type[LegnextError]:
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return ServerError
    return BadRequest
