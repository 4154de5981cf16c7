"""Every error the source side raises, in one tree.

```
AssetsSyncError
├── RetriableError            trying again later may succeed; the run's committed progress stays
│   ├── ThrottledError        HTTP 429
│   ├── ServerError           HTTP 5xx
│   ├── NetworkError          timeouts, refused or dropped connections, truncated bodies
│   ├── InvalidResponseError  a 2xx body that is not the JSON page we expect (HTML, truncated)
│   ├── UnstableListingError  a tie group that never gave two agreeing passes
│   └── RetriesExhaustedError the retry policy gave up; `last` is the final retriable error
├── FatalError                retrying cannot help: fix the request, the credentials or the config
│   ├── ApiRequestError       HTTP 400 and other 4xx: the API's `reason` and `traceId` in the text
│   │   └── AuthError         HTTP 401/403
│   ├── PaginationLoopError   the API repeated a token or a seek made no progress
│   ├── UnseekablePageError   a whole page without one parseable timestamp: cannot seek past it
│   ├── MassDeletionError     a reconciliation would mark too large a share of a stream deleted
│   └── ConfigError           missing or inconsistent settings
└── RejectedRecordError       one record that cannot be loaded; never escapes a page: it becomes
                              a row of the rejects batch with its reason (see normalize.py)
```

Messages never contain secrets: the client builds them from the status, the API's reason and
trace id, and the request's query parameters, which never carry credentials. `redact()` is the
last line of defence for text that leaves the process (run records, logs).
"""

from __future__ import annotations

from collections.abc import Iterable


class AssetsSyncError(Exception):
    """Root of every error raised by `assets_sync`."""


class RetriableError(AssetsSyncError):
    """A failure that may go away by itself (rate limit, outage, network)."""


class ThrottledError(RetriableError):
    """HTTP 429. `retry_after_s` is the server's hint (header, then body), if any."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServerError(RetriableError):
    """HTTP 5xx."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class NetworkError(RetriableError):
    """Timeout, connection refused or dropped, body cut short."""


class InvalidResponseError(RetriableError):
    """A success status whose body is not a page: invalid or truncated JSON, an HTML page."""


class UnstableListingError(RetriableError):
    """A tie group kept changing between passes; the slice stops before it, uncommitted."""


class RetriesExhaustedError(RetriableError):
    """The retry policy gave up on one request; `last` is the last error seen."""

    def __init__(self, message: str, last: RetriableError, attempts: int) -> None:
        super().__init__(message)
        self.last = last
        self.attempts = attempts


class FatalError(AssetsSyncError):
    """A failure that repeats until a human changes something."""


class ApiRequestError(FatalError):
    """A 4xx other than 429: the request itself is wrong."""

    def __init__(
        self, message: str, status: int, reason: str | None = None, trace_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.trace_id = trace_id


class AuthError(ApiRequestError):
    """401 or 403: credentials missing, wrong, or without access to the scope."""


class PaginationLoopError(FatalError):
    """The API sent a token twice or a seek request did not move the cursor."""


class UnseekablePageError(FatalError):
    """No record of a page has a parseable sort timestamp, so the cursor cannot move safely."""


class MassDeletionError(FatalError):
    """A COMPLETE listing would mark more than the allowed share of a stream's live assets
    deleted (an empty listing from credentials of the wrong scope looks exactly like that).
    Nothing was marked; allow it explicitly if the deletions are real."""

    def __init__(self, message: str, would_delete: int, live: int) -> None:
        super().__init__(message)
        self.would_delete = would_delete
        self.live = live


class ConfigError(FatalError):
    """Settings are missing or contradict each other."""


class RejectedRecordError(AssetsSyncError):
    """One record cannot be loaded; carries the reason stored in `rejected_assets`."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret replaced by `***` (longest first)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
