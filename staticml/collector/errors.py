"""Errors a collector request can end in; `staticml.collector.app` maps each to one HTTP status."""

from __future__ import annotations

from staticml.errors import CollectorError


class InvalidRequest(CollectorError):
    """Not a valid summary (or report query) for a known release; `key` names the culprit."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class UnsupportedMediaType(CollectorError):
    """The body is not sent as text/plain or application/json."""


class PayloadTooLarge(CollectorError):
    """The body is larger than the collector accepts."""


class RateLimited(CollectorError):
    """This client sent too many requests; it may retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HostNotAllowed(CollectorError):
    """A report was asked of a host name the collector does not answer for."""


class Unauthorized(CollectorError):
    """A report was asked without the collector's report token."""


class RequestTimeout(CollectorError):
    """The client sent its request body too slowly."""


class StorageUnavailable(CollectorError):
    """The database could not commit or read; the sender keeps the summary and retries.

    The message names the database and what failed, for the log; clients get `public` only.
    """

    retry_after = 60
    public = (
        "The collector cannot store or read summaries right now; nothing of this request was "
        "kept. Keep the summary and send it again after Retry-After seconds."
    )
