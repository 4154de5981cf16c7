"""Import httpx without its command line, which assets-sync never uses.

httpx's `__init__` imports `httpx._main`, its `httpx` console command, whenever click, rich and
pygments are installed (Dagster installs them): about 6 MB of RSS and 0.1 s of start-up in
every process that syncs (measured: 16 MB for `import httpx` with them, 10 MB without).
httpx itself is built for their absence: its `__init__` catches the ImportError and defines
`httpx.main` as a stub that says the command line's dependencies are missing.

The modules of the package that use httpx import it from here
(`from assets_sync._lean_httpx import httpx`), so the first of them imports it this way;
nothing changes if the program imported httpx before. The one effect on the process:
`httpx.main()` (the console command's entry point, not used by importing programs) prints
that stub's message. click, rich and pygments themselves still import normally. (Not in the
package's `__init__`: `warehouse` imports `assets_sync.schema` and must not import httpx.)
"""

from __future__ import annotations

import importlib
import sys

from assets_sync.memory import RefuseImport  # imports neither pyarrow nor httpx

_CLI = "httpx._main"


def import_httpx_without_its_cli() -> bool:
    """Import httpx, leaving out `httpx._main`. Returns False if httpx was imported already."""
    if "httpx" in sys.modules:
        return False
    finder = RefuseImport(_CLI, "httpx's command line is not used by assets-sync")
    sys.meta_path.insert(0, finder)
    try:
        importlib.import_module("httpx")
    finally:
        sys.meta_path.remove(finder)
    return _CLI not in sys.modules


import_httpx_without_its_cli()

import httpx as httpx  # noqa: E402 - bound after the import above; re-exported
