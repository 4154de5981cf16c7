"""Configuration values of the emulator: what data to serve and which misbehaviours to inject.

All three are frozen dataclasses so a test can build one, keep it, and swap it at runtime
(`Emulator.set_faults`) without the server ever seeing a half-changed policy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

TokenMode = Literal["offset", "keyset"]
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Faults:
    """Switchable faults of `GET /v1/assets` (never of admin endpoints). All off by default.

    Rates are per-request probabilities drawn from a RNG seeded by `seed`, so a sequential client
    sees the same sequence every run. `max_faults` caps the number of injected random faults
    (everything below except latency and the token bucket) so a test can say "exactly 3 faults,
    then healthy". The token bucket (`rate_limit_rps`, `rate_limit_burst`) is a policy, not a
    random fault: its 429s carry `Retry-After` = seconds until the next token.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_limit_rps: float | None = None
    rate_limit_burst: int = 10
    random_429_rate: float = 0.0
    error_5xx_rate: float = 0.0
    truncated_json_rate: float = 0.0
    invalid_json_rate: float = 0.0
    html_error_rate: float = 0.0
    drop_connection_rate: float = 0.0
    max_faults: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("random_429_rate", "error_5xx_rate", "truncated_json_rate",
                     "invalid_json_rate", "html_error_rate", "drop_connection_rate"):  # fmt: skip
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        if self.rate_limit_rps is not None and self.rate_limit_rps <= 0:
            raise ValueError("rate_limit_rps must be > 0")
        if self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be >= 1")


@dataclass(frozen=True)
class MutateWhilePaging:
    """Between two page requests of a listing, mutate assets that sort BEFORE the position served.

    Every `every_n_requests`-th request that carries a `paginationToken` first updates `updates`
    and deletes `deletes` assets chosen among those the listing has already passed. With offset
    tokens (evaluated at request time) every such mutation shifts the listing left, so a client
    that simply follows tokens skips assets: that is the failure this mode exists to reproduce.
    `max_mutations` is a budget of mutated assets so that a careful client's runs converge.
    """

    every_n_requests: int = 1
    updates: int = 1
    deletes: int = 0
    max_mutations: int | None = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.every_n_requests < 1 or self.updates < 0 or self.deletes < 0:
            raise ValueError("every_n_requests >= 1, updates >= 0 and deletes >= 0 required")


def _default_end_ms() -> int:
    """Midnight UTC of today: data is in the past, and identical for a seed all day long."""
    now = int(time.time() * 1000)
    return now - now % DAY_MS


@dataclass(frozen=True)
class EmulatorConfig:
    """What the emulator serves.

    Data is a pure function of (`assets`, `seed`, `projects`, `tie_groups`, `end_ms`): the same
    values give byte-identical `truth()`. Generated timestamps lie in the ~2 years before
    `end_ms` (default: today's midnight UTC); mutations stamp the real clock, strictly after.
    """

    assets: int = 1000
    seed: int = 0
    projects: int = 1
    token_mode: TokenMode = "offset"  # noqa: S105 - not a secret
    api_key: str = "emulator-key"
    api_secret: str = "emulator-secret"  # noqa: S105 - a fake credential of a fake server
    bearer_token: str | None = "emulator-token"  # noqa: S105
    faults: Faults = field(default_factory=Faults)
    mutate_while_paging: MutateWhilePaging | None = None
    tie_groups: bool = True
    end_ms: int = field(default_factory=_default_end_ms)
    history_days: int = 730
    embedding_dim: int = 64
    #: Public assets of OTHER organizations (ownerId `team_...`): listed only by `privacy=public`
    #: (and `tags`, a public search), never by default and never in `truth()`.
    foreign_public_assets: int = 0
    #: Bound of the cache of serialized assets (re-reads are then nearly free); 0 disables it.
    render_cache_mb: int = 256

    def __post_init__(self) -> None:
        if self.assets < 0 or self.foreign_public_assets < 0:
            raise ValueError("assets and foreign_public_assets must be >= 0")
        if not 1 <= self.projects <= 1000:
            raise ValueError("projects must be in 1..1000")
        if self.token_mode not in ("offset", "keyset"):
            raise ValueError("token_mode must be 'offset' or 'keyset'")
        if self.history_days < 1:
            raise ValueError("history_days must be >= 1")

    def __repr__(self) -> str:  # never print the secret
        return (
            f"EmulatorConfig(assets={self.assets}, seed={self.seed}, projects={self.projects}, "
            f"token_mode={self.token_mode!r}, tie_groups={self.tie_groups}, end_ms={self.end_ms})"
        )
