"""Credentials for `GET /v1/assets`, typed so that secrets cannot leak by accident.

Three modes, as the API accepts them:

- `BasicAuth(key, secret)`: an API key pair, `Authorization: Basic base64(key:secret)`;
- `BearerAuth(token)`: `Authorization: Bearer <token>`;
- `PublicAuth()`: the literal `Authorization: public-auth-token` (public assets only).

Secret values live in `SecretStr`, whose `repr`/`str` print `**********`; only
`authorization_header()` and `secrets()` (for redaction) ever read them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass


class SecretStr:
    """A string that prints redacted. Compare and hash by value; read with `get_secret_value`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class BasicAuth:
    """An API key pair. The key identifies, the secret authenticates; neither is printed."""

    key: SecretStr
    secret: SecretStr


@dataclass(frozen=True)
class BearerAuth:
    token: SecretStr


@dataclass(frozen=True)
class PublicAuth:
    """No credentials: the API answers with public assets only."""


Credentials = BasicAuth | BearerAuth | PublicAuth

PUBLIC_AUTH_HEADER = "public-auth-token"


def authorization_header(credentials: Credentials) -> str:
    """The value of the `Authorization` header for these credentials."""
    if isinstance(credentials, BasicAuth):
        pair = f"{credentials.key.get_secret_value()}:{credentials.secret.get_secret_value()}"
        return "Basic " + base64.b64encode(pair.encode()).decode()
    if isinstance(credentials, BearerAuth):
        return "Bearer " + credentials.token.get_secret_value()
    return PUBLIC_AUTH_HEADER


def secrets(credentials: Credentials) -> tuple[str, ...]:
    """Every string that must never appear in text leaving the process."""
    if isinstance(credentials, BasicAuth):
        header = authorization_header(credentials)
        return (
            credentials.secret.get_secret_value(),
            credentials.key.get_secret_value(),
            header,
            header.removeprefix("Basic "),
        )
    if isinstance(credentials, BearerAuth):
        return (credentials.token.get_secret_value(),)
    return ()
