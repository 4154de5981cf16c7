"""Where the API is and who we are: `ApiSettings`, read from the environment on request.

Nothing is read at import time; `ApiSettings.from_env()` is called by the CLI or the Dagster
resource. Variables:

- `SCENARIO_API_URL` (default `https://api.cloud.scenario.com/v1`);
- `SCENARIO_API_KEY` + `SCENARIO_API_SECRET` (or the official SDK's `SCENARIO_SDK_API_KEY` +
  `SCENARIO_SDK_API_SECRET`) for HTTP Basic;
- `SCENARIO_API_TOKEN` for a bearer token;
- none of them: public access.

A key without its secret (or the reverse) is a `ConfigError`, never a silent fall back to public.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from assets_sync.auth import BasicAuth, BearerAuth, Credentials, PublicAuth, SecretStr
from assets_sync.errors import ConfigError

DEFAULT_API_URL = "https://api.cloud.scenario.com/v1"


@dataclass(frozen=True)
class ApiSettings:
    """Base URL, credentials and transport knobs of one API client.

    Timeouts are always finite: `connect_timeout_s` for the TCP/TLS handshake, `read_timeout_s`
    for each read of a response. TLS certificates are always verified.
    """

    base_url: str = DEFAULT_API_URL
    credentials: Credentials = field(default_factory=PublicAuth)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_connections: int = 16
    user_agent: str = "assets-sync/0.1"

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, base_url: str | None = None
    ) -> ApiSettings:
        """Settings from `env` (default `os.environ`); `base_url` overrides `SCENARIO_API_URL`."""
        env = os.environ if env is None else env
        url = base_url or env.get("SCENARIO_API_URL") or DEFAULT_API_URL
        return cls(base_url=url, credentials=credentials_from_env(env))


def credentials_from_env(env: Mapping[str, str]) -> Credentials:
    key = env.get("SCENARIO_API_KEY") or env.get("SCENARIO_SDK_API_KEY")
    secret = env.get("SCENARIO_API_SECRET") or env.get("SCENARIO_SDK_API_SECRET")
    token = env.get("SCENARIO_API_TOKEN")
    if key and secret:
        return BasicAuth(SecretStr(key), SecretStr(secret))
    if key or secret:
        missing = "SCENARIO_API_SECRET" if key else "SCENARIO_API_KEY"
        raise ConfigError(f"API key pair incomplete: {missing} is not set")
    if token:
        return BearerAuth(SecretStr(token))
    return PublicAuth()
