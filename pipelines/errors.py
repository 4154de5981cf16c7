"""One clear line for each way a command can fail, without a stack trace or a secret."""

from __future__ import annotations

from assets_sync.errors import (
    ApiRequestError,
    AssetsSyncError,
    AuthError,
    ConfigError,
    NetworkError,
    RetriesExhaustedError,
)
from warehouse.errors import WarehouseBusyError, WarehouseError


def describe_error(exc: BaseException) -> str:
    """A one-line reason a person can act on."""
    if isinstance(exc, AuthError):
        return (
            f"the API refused the credentials ({exc}); check SCENARIO_API_KEY/SCENARIO_API_SECRET"
        )
    if isinstance(exc, RetriesExhaustedError):
        if isinstance(exc.last, NetworkError):
            return f"cannot reach the API after {exc.attempts} attempts: {exc.last}"
        return f"the API kept failing, gave up after {exc.attempts} attempts: {exc.last}"
    if isinstance(exc, NetworkError):
        return f"cannot reach the API: {exc}"
    if isinstance(exc, ApiRequestError | ConfigError):
        return str(exc)
    if isinstance(exc, WarehouseBusyError):
        return f"warehouse busy: {exc}"
    if isinstance(exc, WarehouseError | AssetsSyncError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
