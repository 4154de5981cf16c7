"""`python -m pipelines` is the `assets-sync` command."""

import sys

from pipelines.cli import main

sys.exit(main())
