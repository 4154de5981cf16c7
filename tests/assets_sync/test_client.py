"""AssetsClient: what is retried, how long it waits, what fails at once and what it says."""

from __future__ import annotations

import base64

import httpx
import pytest

from assets_sync.auth import BasicAuth, BearerAuth, PublicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.errors import (
    ApiRequestError,
    AuthError,
    ConfigError,
    InvalidResponseError,
    NetworkError,
    RetriesExhaustedError,
    ServerError,
    ThrottledError,
)
from assets_sync.ratelimit import NoLimit
from assets_sync.retry import RetryPolicy

PAGE = {"assets": [{"id": "asset_1", "updatedAt": "2024-01-01T00:00:00.000Z"}]}
SECRET = "sup3r-s3cret"
KEY = "api_key_123"


def make(
    answers: list[httpx.Response | Exception],
    policy: RetryPolicy | None = None,
    credentials: BasicAuth | BearerAuth | PublicAuth | None = None,
) -> tuple[AssetsClient, list[float], list[httpx.Request]]:
    sleeps: list[float] = []
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0) if answers else httpx.Response(200, json=PAGE)
        if isinstance(answer, Exception):
            raise answer
        return answer

    settings = ApiSettings(
        base_url="https://api.example/v1",
        credentials=credentials or BasicAuth(SecretStr(KEY), SecretStr(SECRET)),
    )
    client = AssetsClient(
        settings,
        transport=httpx.MockTransport(handle),
        retry=policy or RetryPolicy(jitter=0.0),
        limiter=NoLimit(),
        sleep=sleeps.append,
    )
    return client, sleeps, seen


def test_basic_auth_header_and_page_parsing() -> None:
    client, _, seen = make([httpx.Response(200, json={**PAGE, "nextPaginationToken": "t1"})])
    page = client.list_page({"pageSize": "1"})
    assert page.assets[0]["id"] == "asset_1" and page.next_token == "t1"
    expected = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert seen[0].headers["Authorization"] == expected
    assert seen[0].url.path == "/v1/assets" and seen[0].url.params["pageSize"] == "1"


@pytest.mark.parametrize(
    ("credentials", "header"),
    [(BearerAuth(SecretStr("jwt")), "Bearer jwt"), (PublicAuth(), "public-auth-token")],
)
def test_other_auth_modes(credentials: BearerAuth | PublicAuth, header: str) -> None:
    client, _, seen = make([], credentials=credentials)
    client.list_page({})
    assert seen[0].headers["Authorization"] == header


def test_empty_token_is_the_last_page() -> None:
    client, _, _ = make([httpx.Response(200, json={**PAGE, "nextPaginationToken": ""})])
    assert client.list_page({}).next_token is None


def test_retry_after_zero_still_backs_off() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(429, headers={"Retry-After": "0"}) for _ in range(4)
    ]
    client, sleeps, _ = make(answers)
    client.list_page({})
    assert len(sleeps) == 4 and all(s > 0 for s in sleeps)
    assert sleeps == sorted(sleeps) and sleeps[-1] >= 8 * sleeps[0]  # exponential floor
    assert client.stats.throttled == 4 and client.stats.retries == 4


def test_retry_after_seconds_then_remaining_seconds_then_backoff() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(429, json={"remainingSeconds": 7}),
        httpx.Response(429),
    ]
    client, sleeps, _ = make(answers)
    client.list_page({})
    policy = RetryPolicy()
    assert sleeps[0] == 3.0 and sleeps[1] == 7.0
    assert sleeps[2] == policy.base_delay_s * 4  # third in a row, no hint


def test_429_budget_is_separate_from_failures() -> None:
    policy = RetryPolicy(max_attempts=2, max_throttled=5, jitter=0.0)
    answers: list[httpx.Response | Exception] = [httpx.Response(429) for _ in range(4)]
    answers.append(httpx.Response(503))
    client, _, _ = make(answers, policy)
    assert client.list_page({}).assets  # 4 throttles + 1 failure: within both budgets
    client, _, _ = make([httpx.Response(429) for _ in range(6)], policy)
    with pytest.raises(RetriesExhaustedError) as info:
        client.list_page({})
    assert isinstance(info.value.last, ThrottledError) and info.value.attempts == 5


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx.Response(500, json={"message": "boom"}), ServerError),
        (httpx.Response(503, text="<html>Service Unavailable</html>"), ServerError),
        (httpx.ReadTimeout("slow"), NetworkError),
        (httpx.ConnectError("refused"), NetworkError),
        (httpx.RemoteProtocolError("peer closed connection"), NetworkError),
        (httpx.Response(200, content=b'{"assets": [{"id": "a'), InvalidResponseError),
        (httpx.Response(200, text="<html><body>Bad gateway</body></html>"), InvalidResponseError),
        (httpx.Response(200, json={"items": []}), InvalidResponseError),
    ],
)
def test_retriable_failures_are_retried(answer: httpx.Response | Exception, kind: type) -> None:
    client, sleeps, _ = make([answer, answer])
    assert client.list_page({}).assets
    assert len(sleeps) == 2
    client, _, _ = make([answer] * 10, RetryPolicy(max_attempts=3, jitter=0.0))
    with pytest.raises(RetriesExhaustedError) as info:
        client.list_page({})
    assert isinstance(info.value.last, kind)


def test_total_time_budget() -> None:
    policy = RetryPolicy(max_elapsed_s=10, jitter=0.0)
    client, sleeps, _ = make([httpx.Response(429, headers={"Retry-After": "60"})], policy)
    with pytest.raises(RetriesExhaustedError):
        client.list_page({})  # a 60 s wait would end past the 10 s budget: give up now
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"reason": "pageSize must be <= 100", "traceId": "tr-400"}, ApiRequestError),
        (401, {"message": "invalid api key", "traceId": "tr-401"}, AuthError),
        (403, {"error": "forbidden project", "traceId": "tr-403"}, AuthError),
        (400, {"detail": "bad sortBy", "traceId": "tr-d"}, ApiRequestError),
    ],
)
def test_fatal_errors_fail_at_once_with_reason_and_trace(
    status: int, body: dict[str, str], kind: type
) -> None:
    client, sleeps, _ = make([httpx.Response(status, json=body)])
    with pytest.raises(kind) as info:
        client.list_page({"pageSize": "500"})
    text = str(info.value)
    assert sleeps == [] and str(status) in text
    assert body["traceId"] in text
    assert next(v for k, v in body.items() if k != "traceId") in text
    assert SECRET not in text and KEY not in text


def test_secrets_echoed_by_the_server_are_redacted() -> None:
    client, _, _ = make([httpx.Response(401, json={"reason": f"key {KEY}:{SECRET} rejected"})])
    with pytest.raises(AuthError) as info:
        client.list_page({})
    assert SECRET not in str(info.value) and KEY not in str(info.value)
    assert SECRET not in repr(client) and SECRET not in repr(client.settings)


def test_settings_from_env() -> None:
    s = ApiSettings.from_env({"SCENARIO_SDK_API_KEY": "k", "SCENARIO_SDK_API_SECRET": "s"})
    assert isinstance(s.credentials, BasicAuth) and s.base_url.endswith("/v1")
    assert "'s'" not in repr(s)
    s = ApiSettings.from_env({"SCENARIO_API_TOKEN": "t", "SCENARIO_API_URL": "http://x/v1/"})
    assert isinstance(s.credentials, BearerAuth) and s.base_url == "http://x/v1"
    assert isinstance(ApiSettings.from_env({}).credentials, PublicAuth)
    with pytest.raises(ConfigError, match="SCENARIO_API_SECRET"):
        ApiSettings.from_env({"SCENARIO_API_KEY": "k"})
    with pytest.raises(ConfigError):
        ApiSettings(base_url="ftp://nope")


def test_secret_str_is_redacted() -> None:
    s = SecretStr("hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in f"{s}"
    assert s.get_secret_value() == "hunter2" and s == SecretStr("hunter2")


def test_retry_after_http_date() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    client, sleeps, _ = make([httpx.Response(429, headers={"Retry-After": when})])
    client.list_page({})
    assert 25 < sleeps[0] <= 31


def test_counters_are_thread_safe() -> None:
    import threading

    client, _, _ = make([])
    threads = [
        threading.Thread(target=lambda: [client.list_page({}) for _ in range(25)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.stats.pages == 100 and client.stats.requests == 100


def test_only_full_answers_are_timed_for_the_fetch_gate() -> None:
    # A fast 429 or 500 would pass for the server's best time and make every real answer
    # look queued: the fetch gate sizes its threads from these times (latency.py).
    answers: list[httpx.Response | Exception] = [
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(500),
    ]
    client, _, _ = make(answers)
    client.list_page({})
    client.list_page({})
    times = client.request_times
    assert times.count == 2 and client.stats.requests == 4
    least = times.least()
    assert least is not None and least >= 0.0
