"""`python -m assets_sync.emulator --port 8765 --assets 100000`."""

from .cli import main

raise SystemExit(main())
