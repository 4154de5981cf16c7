"""`python -m pipelines` is the `assets-sync` command."""

import sys

from pipelines.launcher import main

sys.exit(main())
