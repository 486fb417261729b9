"""`python -m opro_cli.cli`: the `opro` command, for environments without the console script."""

import sys

from . import main

sys.exit(main())
