"""`AssetsClient`: one page of `GET /v1/assets`, retried and rate limited.

What it guarantees:

- every request has finite connect/read/write/pool timeouts and verifies TLS;
- connections are pooled and kept alive; one client is shared by every concurrent slice
  (httpx.Client is thread-safe; counters are guarded by a lock). Under the `httpx.Client`
  the transport is `StdlibTransport` (`http.client`, a fraction of httpcore's CPU per page),
  unless a proxy applies to the API's URL (httpx's own transport then, which honours it).
  With it, every page's request is the `GET /assets` httpx built once (`GetTemplate`) with
  that page's query: httpx's URL building cost ~40 % of the client's CPU per page. Cookies a
  server sets are not sent back (the API authenticates every request by its header);
- a page is returned only when its body is a JSON object whose `assets` is a list; anything
  else (HTML error page, truncated JSON) is a retriable `InvalidResponseError`;
- retriable failures are retried by `RetryPolicy`; fatal ones raise at once with the API's
  `reason`/`message`/`error`/`detail` and `traceId`, never with credentials;
- the `Authorization` header is set per request from typed credentials and is never logged.

Tests inject an `httpx.BaseTransport` (e.g. `httpx.MockTransport`), so no network is needed.
"""

from __future__ import annotations

import random
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from assets_sync import auth
from assets_sync._lean_httpx import httpx
from assets_sync.config import ApiSettings
from assets_sync.errors import (
    ApiRequestError,
    AuthError,
    InvalidResponseError,
    NetworkError,
    RetriableError,
    RetriesExhaustedError,
    ServerError,
    ThrottledError,
    redact,
)
from assets_sync.latency import RecentDurations
from assets_sync.ratelimit import RateLimiter
from assets_sync.records import Records, decode_page
from assets_sync.retry import RetryPolicy
from assets_sync.transport import Exchange, GetTemplate, StdlibTransport

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Page:
    """One page as received: raw asset objects, the next token (None on the last page) and the
    query that produced it, so that a page always carries its request context."""

    assets: Records  # dicts, or `TypedRecords` (also a sequence of dicts)
    next_token: str | None
    params: Params
    attempts: int = 1


@dataclass(frozen=True)
class ClientStats:
    """Counters since the client was created; subtract two snapshots for one run."""

    requests: int = 0  # HTTP attempts, successful or not
    pages: int = 0  # pages returned to the caller
    retries: int = 0  # attempts after the first for a page
    throttled: int = 0  # 429 answers
    errors: int = 0  # failed attempts of any kind

    def __sub__(self, other: ClientStats) -> ClientStats:
        return ClientStats(
            self.requests - other.requests,
            self.pages - other.pages,
            self.retries - other.retries,
            self.throttled - other.throttled,
            self.errors - other.errors,
        )


class AssetsClient:
    """Thread-safe client of `GET {base_url}/assets`."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_retry: Callable[[RetriableError, float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter()
        self._sleep = sleep
        self._clock = clock
        self._on_retry = on_retry
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._stats = ClientStats()
        #: wall time of recent successful requests, body included (no limiter or retry
        #: waits): the fetch gate sizes the number of fetch threads from it (latency.py)
        self.request_times = RecentDurations()
        self._secrets = auth.secrets(settings.credentials)
        timeout = httpx.Timeout(
            connect=settings.connect_timeout_s,
            read=settings.read_timeout_s,
            write=settings.read_timeout_s,
            pool=settings.read_timeout_s,
        )
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
        )
        if transport is None and not _proxied(settings.base_url):
            transport = StdlibTransport(max_connections=settings.max_connections)
        #: set when requests can be sent now and read later (`begin_page`)
        self._split = transport if isinstance(transport, StdlibTransport) else None
        self._http = httpx.Client(
            base_url=settings.base_url,
            timeout=timeout,
            limits=limits,
            transport=transport,
            verify=True,
            headers={"Accept": "application/json", "User-Agent": settings.user_agent},
        )
        self._auth_header = auth.authorization_header(settings.credentials)
        #: the GET of every page, built by httpx once: `StdlibTransport.begin_get` sends it
        #: with each page's query (~40 % less of the client's CPU per page, measured)
        self._template = self._page_template() if self._split is not None else None

    def _page_template(self) -> GetTemplate | None:
        request = self._http.build_request(
            "GET", "/assets", headers={"Authorization": self._auth_header}
        )
        try:
            return GetTemplate.of(request)
        except ValueError:  # a base URL with a query of its own: httpx merges it per request
            return None

    def __repr__(self) -> str:
        return f"AssetsClient(base_url={self.settings.base_url!r})"

    def __enter__(self) -> AssetsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def stats(self) -> ClientStats:
        with self._lock:
            return self._stats

    def redact(self, text: str) -> str:
        """`text` without any of this client's secrets."""
        return redact(text, self._secrets)

    def list_page(
        self, params: Mapping[str, str] | Params, sent: PendingPage | None = None
    ) -> Page:
        """GET one page with these query parameters, retrying per the policy.

        `sent`: this page's request, already sent by `begin_page` (its answer is the first
        attempt's); the later attempts, if any, are made here as usual.
        """
        query: Params = tuple(params.items()) if isinstance(params, Mapping) else tuple(params)
        if sent is not None and sent.query != query:
            raise ValueError("the request sent was for other parameters")
        started = self._clock()
        failures = throttles = consecutive = 0
        attempt = 0
        while True:
            attempt += 1
            try:
                if sent is not None:
                    pending, sent = sent, None
                    page = pending.answer()
                else:
                    self.limiter.acquire()
                    page = self._attempt(query, attempt)
            except RetriableError as exc:
                consecutive += 1
                if isinstance(exc, ThrottledError):
                    throttles += 1
                    # The pause every request shares obeys the policy's cap too: an uncapped
                    # `Retry-After: 86400` (or a far HTTP date) would stall the whole run.
                    hint = exc.retry_after_s
                    if hint is not None:
                        hint = min(hint, self.retry.max_server_hint_s)
                    self.limiter.on_throttle(hint)
                else:
                    failures += 1
                self._count(errors=1, throttled=int(isinstance(exc, ThrottledError)))
                delay = self.retry.delay_s(exc, consecutive, self._rng)
                elapsed = self._clock() - started
                if (
                    not self.retry.should_retry(exc, failures, throttles)
                    or elapsed + delay > self.retry.max_elapsed_s
                ):
                    raise RetriesExhaustedError(
                        f"gave up after {attempt} attempts in {elapsed:.1f}s: {exc}",
                        exc,
                        attempt,
                    ) from exc
                if self._on_retry is not None:
                    self._on_retry(exc, delay)
                self._count(retries=1)
                self._sleep(delay)
                continue
            except ApiRequestError:
                self._count(errors=1)
                raise
            self.limiter.on_success()
            self._count(pages=1)
            return page

    def begin_page(self, params: Params) -> PendingPage | None:
        """Send this page's request now, for `list_page(params, sent=...)` to read later.

        The engine sends the next page's request before it normalizes the current one, so
        that the server prepares the answer meanwhile (one thread, no GIL hand-offs). It waits
        for the rate limiter as any request does. None when the transport cannot split a
        request (httpx's own, behind a proxy) or when sending failed: `list_page` then makes
        the request itself, with its retries.
        """
        if self._split is None:
            return None
        query = tuple(params)
        self.limiter.acquire()
        self._count(requests=1)
        sent = time.perf_counter()
        try:
            exchange = self._begin(self._split, query)
        except (httpx.TransportError, httpx.TimeoutException):
            self._count(errors=1)
            return None
        return PendingPage(self, query, exchange, sent)

    def _attempt(self, query: Params, attempt: int) -> Page:
        self._count(requests=1)
        sent = time.perf_counter()
        try:
            if self._split is not None:
                response = self._begin(self._split, query).finish()
                response.read()  # decodes a Content-Encoding, as httpx.Client does
            else:
                response = self._http.get(
                    "/assets", params=list(query), headers={"Authorization": self._auth_header}
                )
        except httpx.TimeoutException as exc:
            raise NetworkError(f"timeout: {type(exc).__name__}") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise NetworkError(f"connection failed: {type(exc).__name__}: {exc}") from exc
        return self._answer(response, query, attempt, sent)

    def _begin(self, transport: StdlibTransport, query: Params) -> Exchange:
        """Send the page's request through our transport, from the template when there is one."""
        if self._template is not None:
            return transport.begin_get(self._template, query)
        request = self._http.build_request(
            "GET", "/assets", params=list(query), headers={"Authorization": self._auth_header}
        )
        return transport.begin(request)

    def _answer(self, response: httpx.Response, query: Params, attempt: int, sent: float) -> Page:
        """The page in a 200 answer; the error an answer of any other status means."""
        status = response.status_code
        if status == 200:
            # Only full answers: a fast 429 or 5xx would pass for the server's best time and
            # make every real answer look queued (the fetch gate would drop to its minimum).
            self.request_times.add(time.perf_counter() - sent)
            return _parse_page(response.content, response.headers, query, attempt)
        detail = self.redact(_error_detail(response.content))
        where = f"GET /assets?{_describe(query)}"
        if status == 429:
            hint = _retry_after(response.headers.get("Retry-After"), response.content)
            raise ThrottledError(f"429 rate limited on {where}{detail}", hint)
        if status >= 500:
            raise ServerError(f"{status} server error on {where}{detail}", status)
        reason, trace_id = _reason(response.content)
        reason = self.redact(reason) if reason else None
        message = f"{status} on {where}{detail}"
        if status in (401, 403):
            raise AuthError(message, status, reason, trace_id)
        if 200 < status < 300:
            raise InvalidResponseError(f"unexpected {status} on {where}")
        raise ApiRequestError(message, status, reason, trace_id)

    def _count(self, **deltas: int) -> None:
        with self._lock:
            s = self._stats
            self._stats = ClientStats(
                s.requests + deltas.get("requests", 0),
                s.pages + deltas.get("pages", 0),
                s.retries + deltas.get("retries", 0),
                s.throttled + deltas.get("throttled", 0),
                s.errors + deltas.get("errors", 0),
            )


class PendingPage:
    """A page's request sent by `AssetsClient.begin_page`, its answer not read yet."""

    def __init__(self, client: AssetsClient, query: Params, exchange: Exchange, sent: float):
        self.query = query
        self._client = client
        self._exchange: Exchange | None = exchange
        self._sent = sent

    def answer(self) -> Page:
        """Read the answer: the page, or the error `list_page` retries or raises."""
        exchange, self._exchange = self._exchange, None
        if exchange is None:
            raise RuntimeError("this page's answer was already read or abandoned")
        try:
            response = exchange.finish()
            response.read()  # decodes a Content-Encoding, as httpx.Client does
        except httpx.TimeoutException as exc:
            raise NetworkError(f"timeout: {type(exc).__name__}") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise NetworkError(f"connection failed: {type(exc).__name__}: {exc}") from exc
        return self._client._answer(response, self.query, 1, self._sent)

    def abandon(self) -> None:
        """Nobody will read the page (its slice ended or moved): close its connection."""
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            exchange.abandon()


def _proxied(base_url: str) -> bool:
    """Whether a proxy from the environment (`HTTPS_PROXY`, `ALL_PROXY`, ...) may apply to
    `base_url`: httpx's own transport honours those (and `NO_PROXY`), ours does not."""
    scheme = httpx.URL(base_url).scheme
    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all"))


def _parse_page(body: bytes, headers: httpx.Headers, query: Params, attempt: int) -> Page:
    typed = decode_page(body)  # the hot path; None: orjson decodes it (`assets_sync.records`)
    if typed is not None:
        return Page(typed[0], typed[1], query, attempt)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        kind = "HTML page" if b"<html" in body[:512].lower() else "invalid JSON"
        ctype = headers.get("Content-Type", "?")
        raise InvalidResponseError(
            f"{kind} ({len(body)} bytes, {ctype}) for GET /assets?{_describe(query)}"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("assets"), list):
        raise InvalidResponseError(f"no `assets` list in the body for {_describe(query)}")
    assets: list[dict[str, Any]] = data["assets"]
    token = data.get("nextPaginationToken")
    return Page(assets, token if isinstance(token, str) and token else None, query, attempt)


def _reason(body: bytes) -> tuple[str | None, str | None]:
    """The API's reason (`reason`, `message`, `error` or `detail`) and `traceId`, if any."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    reason = None
    for key in ("reason", "message", "error", "detail"):
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("reason")
        if value:
            reason = str(value)[:500]
            break
    trace = data.get("traceId") or data.get("trace_id") or data.get("requestId")
    return reason, str(trace) if trace else None


def _error_detail(body: bytes) -> str:
    reason, trace_id = _reason(body)
    parts = []
    if reason:
        parts.append(f"reason: {reason}")
    if trace_id:
        parts.append(f"traceId: {trace_id}")
    return (" (" + "; ".join(parts) + ")") if parts else ""


def _retry_after(header: str | None, body: bytes) -> float | None:
    """Seconds to wait: the `Retry-After` header (seconds or HTTP date), else `remainingSeconds`."""
    if header is not None:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - time.time())
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict):
        remaining = data.get("remainingSeconds")
        if isinstance(remaining, int | float) and not isinstance(remaining, bool):
            return max(0.0, float(remaining))
    return None


def _describe(query: Params) -> str:
    """The query for messages; no credentials are ever query parameters."""
    return "&".join(f"{k}={v}" for k, v in query if k != "paginationToken") or "-"
