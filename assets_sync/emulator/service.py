"""The emulator as a function from request to response, independent of any HTTP server.

`App.handle` authenticates, applies the fault policy, validates, locates the page in a sorted
view, renders it and serializes it; `server.py` only moves bytes. Keeping the protocol logic
here means every behaviour is reachable both over real HTTP (tests, benchmarks, the CLI) and
from a direct call.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import orjson

from .config import EmulatorConfig, MutateWhilePaging
from .faults import HTML_PAGE, Decision, FaultInjector, corrupt, retry_after_header
from .query import BadRequest, ListQuery, parse
from .store import Store
from .tokens import KeysetToken, OffsetToken, encode_keyset, encode_offset
from .views import View

Principal = Literal["full", "public"]
_COUNTERS = ("requests", "pages_served", "assets_served", "rate_limited", "admin_requests")
ADMIN_PREFIX = "/_emulator/"
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
            431: "Request Header Fields Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}  # fmt: skip


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json; charset=utf-8"
    drop: bool = False  # close the connection without answering

    @property
    def reason(self) -> str:
        return _REASONS.get(self.status, "Error")


def trace_id() -> str:
    return f"{random.getrandbits(128):032x}"


def error(status: int, reason: str, **extra: Any) -> Response:
    return Response(status, orjson.dumps({"reason": reason, "traceId": trace_id(), **extra}))


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS))


class App:
    def __init__(self, cfg: EmulatorConfig) -> None:
        self.cfg = cfg
        self.store = Store(cfg)
        self.faults = FaultInjector(cfg.faults)
        self.mwp: MutateWhilePaging | None = cfg.mutate_while_paging
        self._mwp_lock = threading.Lock()
        self._mwp_seen = 0
        self._mwp_done = 0
        self._mwp_rng = random.Random(0)
        self._stats_lock = threading.Lock()
        self.reset_stats()
        self.set_mutate_while_paging(cfg.mutate_while_paging)

    # -- bookkeeping ---------------------------------------------------------------------
    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._faults: Counter[str] = Counter()

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {
                **{k: self._stats[k] for k in _COUNTERS},
                "by_status": dict(sorted(self._by_status.items())),
                "status_429": self._by_status[429],
                "faults": dict(self._faults),
                "faults_injected": sum(self._faults.values()),
                "mutations_while_paging": self._mwp_done,
                "live_assets": self.store.count(),
            }

    def _count(self, resp: Response, *, admin: bool = False) -> Response:
        with self._stats_lock:
            self._stats["admin_requests" if admin else "requests"] += 1
            if not admin:
                self._by_status[resp.status] += 1
        return resp

    def set_mutate_while_paging(self, mwp: MutateWhilePaging | None) -> None:
        with self._mwp_lock:
            self.mwp = mwp
            self._mwp_seen = 0
            self._mwp_done = 0
            self._mwp_rng = random.Random(mwp.seed if mwp else 0)

    # -- entry point ---------------------------------------------------------------------
    def handle(self, method: str, target: str, authorization: str | None, body: bytes) -> Response:
        parts = urlsplit(target)
        principal = authenticate(authorization, self.cfg)
        path = parts.path.removeprefix("/v1")  # admin also answers beside the base URL
        if path.startswith(ADMIN_PREFIX):
            from .admin import handle_admin  # admin imports this module

            if principal is None:
                resp = error(401, "Unauthorized")
            elif principal != "full":
                resp = error(403, "Forbidden: admin endpoints need key/secret or bearer")
            else:
                resp = handle_admin(self, method, path, parts.query, body)
            return self._count(resp, admin=True)
        if parts.path.rstrip("/") != "/v1/assets":
            return self._count(error(404, f"Cannot {method} {parts.path}"))
        if method != "GET":
            return self._count(error(405, "Method not allowed"))
        decision = self.faults.decide()
        if decision.latency_s:
            time.sleep(decision.latency_s)
        return self._count(self._faulted(decision, principal, parts.query))

    def _faulted(self, d: Decision, principal: Principal | None, query: str) -> Response:
        if d.rate_limited or d.kind in ("429", "5xx", "html", "drop"):
            with self._stats_lock:
                self._stats["rate_limited"] += d.rate_limited
                if d.kind:
                    self._faults[d.kind] += 1
        if d.rate_limited:
            header = retry_after_header(d.retry_after_s)
            return _too_many(int(header), [("Retry-After", header)])
        if d.kind == "429":
            headers = [] if d.retry_header is None else [("Retry-After", d.retry_header)]
            remaining = int(d.retry_header or random.choice(("0", "1")))
            return _too_many(remaining, headers)
        if d.kind == "5xx":
            return error(d.status, "Internal server error" if d.status == 500 else "Upstream error")
        if d.kind == "html":
            return Response(d.status, HTML_PAGE, content_type="text/html")
        if d.kind == "drop":
            return Response(0, drop=True)
        if principal is None:
            return error(401, "Unauthorized")
        try:
            resp = self.list_assets(parse_qsl(query, keep_blank_values=True), principal)
        except BadRequest as exc:
            return error(400, str(exc))
        if d.kind in ("truncated", "invalid") and resp.status == 200:
            with self._stats_lock:
                self._faults[d.kind] += 1
            resp.body = corrupt(resp.body, d)
        return resp

    # -- the listing ---------------------------------------------------------------------
    def list_assets(self, pairs: list[tuple[str, str]], principal: Principal) -> Response:
        store = self.store
        q = parse(pairs, store, principal == "public")
        size = q.page_size
        if isinstance(q.token, OffsetToken) and not q.page_size_given:
            size = q.token.limit
        with store.lock:
            view = store.view(q.sort_field, q.filter)
            if q.token is not None and self.mwp is not None:
                self._mutate_before(q, view)
            lo, hi = view.bounds(q.after_ms, q.before_ms)
            rank = min(self._rank(q, view, lo, hi), hi - lo)  # past the end: an empty page
            end = min(rank + size, hi - lo)
            if q.descending:
                first, last = hi - 1 - rank, hi - end
                rows = view.idx[last : first + 1][::-1]
            else:
                first, last = lo + rank, lo + end - 1
                rows = view.idx[first : last + 1]
            assets = store.render_json(rows, q.original)
            token = None
            if end < hi - lo:
                if self.cfg.token_mode == "keyset":  # noqa: S105 - a mode name
                    token = encode_keyset(
                        q.sort_field, int(view.keys[last]), store.asset_id(int(view.idx[last]))
                    )
                else:
                    token = encode_offset(end, size)
        with self._stats_lock:
            self._stats["pages_served"] += 1
            self._stats["assets_served"] += len(assets)
        tail = b"]}" if token is None else b'],"nextPaginationToken":"%s"}' % token.encode("ascii")
        return Response(200, b"".join((b'{"assets":[', b",".join(assets), tail)))

    def _rank(self, q: ListQuery, view: View, lo: int, hi: int) -> int:
        """How many rows of the listing precede the page asked for."""
        tok = q.token
        if tok is None:
            return 0
        if isinstance(tok, OffsetToken):
            return tok.offset
        assert isinstance(tok, KeysetToken)
        ident = self.store.codecs.asset.decode_key(tok.asset_id)
        if ident is None:
            raise BadRequest("invalid paginationToken")
        if q.descending:
            return max(0, hi - view.position(tok.key_ms, ident, "left"))
        return max(0, view.position(tok.key_ms, ident, "right") - lo)

    def _mutate_before(self, q: ListQuery, view: View) -> None:
        """Mutate-while-paging: touch rows this listing has already served (store lock held)."""
        mwp = self.mwp
        assert mwp is not None
        with self._mwp_lock:
            self._mwp_seen += 1
            if self._mwp_seen % mwp.every_n_requests:
                return
            budget = mwp.updates + mwp.deletes
            if mwp.max_mutations is not None:
                budget = min(budget, mwp.max_mutations - self._mwp_done)
            lo, hi = view.bounds(q.after_ms, q.before_ms)
            rank = min(self._rank(q, view, lo, hi), hi - lo)
            budget = min(budget, rank)
            if budget <= 0:
                return
            ranks = self._mwp_rng.sample(range(rank), budget)
            pos = [hi - 1 - r if q.descending else lo + r for r in ranks]
            rows = [int(view.idx[p]) for p in pos]
            n_upd = min(mwp.updates, len(rows))
            self.store.update_rows(sorted(rows[:n_upd]))
            self.store.delete_rows(sorted(rows[n_upd:]))
            self._mwp_done += len(rows)


def _too_many(remaining: int, headers: list[tuple[str, str]]) -> Response:
    body = {"reason": "Too Many Requests", "traceId": trace_id(), "remainingSeconds": remaining}
    return Response(429, orjson.dumps(body), headers)


def authenticate(header: str | None, cfg: EmulatorConfig) -> Principal | None:
    """Basic key:secret or Bearer -> full access; `public-auth-token` -> public assets only."""
    if not header:
        return None
    header = header.strip()
    if header == "public-auth-token":
        return "public"
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        expected = f"{cfg.api_key}:{cfg.api_secret}"
        return "full" if hmac.compare_digest(decoded.encode(), expected.encode()) else None
    if scheme.lower() == "bearer" and cfg.bearer_token:
        return "full" if hmac.compare_digest(value.encode(), cfg.bearer_token.encode()) else None
    return None
