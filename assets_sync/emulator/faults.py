"""Fault injection for `GET /v1/assets`: a token bucket and seeded random failures.

One `FaultInjector` per server; its decisions are taken under a lock from one RNG seeded by
`Faults.seed`, so a sequential client meets the same faults in the same order every run.
Latency is slept by the serving thread outside any lock, so concurrent clients overlap.

Random faults and what the client sees:
- `429`: `Retry-After` of 0, 1 or absent, body `{"reason", "traceId", "remainingSeconds"}`;
- `5xx`: 500/502/503/504 with a JSON error body;
- `html`: a proxy's HTML error page (502/503/504, `text/html`): not JSON at all;
- `drop`: the connection is closed without a response;
- `truncated`: a 200 page cut in the middle (Content-Length matches the cut body);
- `invalid`: a 200 page whose JSON is syntactically broken.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass

from .config import Faults

RANDOM_KINDS = ("429", "5xx", "html", "drop", "truncated", "invalid")


@dataclass(frozen=True)
class Decision:
    """What to do to one request: `kind` None = healthy; `retry_after_s` for the bucket's 429."""

    kind: str | None = None
    rate_limited: bool = False
    retry_after_s: float = 0.0
    latency_s: float = 0.0
    status: int = 200
    retry_header: str | None = None  # for random 429s: "0", "1" or None (absent)
    cut: float = 0.5  # where a truncated body is cut / an invalid one is broken


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.set(faults)

    def set(self, faults: Faults) -> None:
        """Swap the policy; the fault budget and the bucket restart."""
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)
            self._injected = 0
            self._tokens = float(faults.rate_limit_burst)
            self._stamp = time.monotonic()

    def decide(self) -> Decision:
        with self._lock:
            f, rng = self.faults, self._rng
            latency = max(0.0, f.latency_ms + rng.uniform(-1, 1) * f.latency_jitter_ms) / 1000
            if f.rate_limit_rps is not None:
                now = time.monotonic()
                refill = (now - self._stamp) * f.rate_limit_rps
                self._tokens = min(float(f.rate_limit_burst), self._tokens + refill)
                self._stamp = now
                if self._tokens < 1.0:
                    wait = (1.0 - self._tokens) / f.rate_limit_rps
                    return Decision(rate_limited=True, retry_after_s=wait, latency_s=latency)
                self._tokens -= 1.0
            if f.max_faults is not None and self._injected >= f.max_faults:
                return Decision(latency_s=latency)
            rates = (
                f.random_429_rate, f.error_5xx_rate, f.html_error_rate,
                f.drop_connection_rate, f.truncated_json_rate, f.invalid_json_rate,
            )  # fmt: skip
            if not any(rates):
                return Decision(latency_s=latency)
            u, acc = rng.random(), 0.0
            for kind, rate in zip(RANDOM_KINDS, rates, strict=True):
                acc += rate
                if u < acc:
                    self._injected += 1
                    return self._detail(kind, latency)
            return Decision(latency_s=latency)

    def _detail(self, kind: str, latency: float) -> Decision:
        rng = self._rng
        if kind == "429":
            return Decision(kind, status=429, latency_s=latency,
                            retry_header=rng.choice(("0", "1", None)))  # fmt: skip
        if kind == "5xx":
            return Decision(kind, status=rng.choice((500, 502, 503, 504)), latency_s=latency)
        if kind == "html":
            return Decision(kind, status=rng.choice((502, 503, 504)), latency_s=latency)
        return Decision(kind, latency_s=latency, cut=rng.uniform(0.1, 0.9))

    @property
    def injected(self) -> int:
        return self._injected


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up: a client honouring it never comes back too early."""
    return str(max(0, math.ceil(seconds)))


def corrupt(body: bytes, decision: Decision) -> bytes:
    """Apply a body fault to a healthy JSON body."""
    cut = max(1, int(len(body) * decision.cut))
    if decision.kind == "truncated":
        return body[:cut]
    if decision.kind == "invalid":
        return body[:cut] + b'",,}{NaN' + body[cut:]
    return body


HTML_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>awselb/2.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
