"""A faithful, offline emulator of Scenario's `GET /v1/assets`.

    from assets_sync.emulator import Emulator, EmulatorConfig, Faults, MutateWhilePaging

    with Emulator(EmulatorConfig(assets=5000, seed=1)) as emu:
        httpx.get(emu.base_url + "/assets", auth=("emulator-key", "emulator-secret"))
        emu.update(n=10); emu.truth()

Module map: `generator` (seeded numpy columns) -> `store` (views, mutations) -> `query`
(validation) + `tokens` -> `service` (the protocol) -> `server` (HTTP, `Emulator`); `render`
builds asset objects on demand, `faults` injects failures, `admin` exposes mutations over HTTP,
`cli` serves in the foreground.
"""

from typing import TYPE_CHECKING, Any

from .config import EmulatorConfig, Faults, MutateWhilePaging, TokenMode

if TYPE_CHECKING:
    from .server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "Faults", "MutateWhilePaging", "TokenMode"]


def __getattr__(name: str) -> Any:
    """`Emulator` (and with it NumPy) is imported on first use: the CLI builds the emulator's
    flags from `cli` and `config` in processes that keep NumPy out (`assets_sync.memory`)."""
    if name == "Emulator":
        from .server import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
