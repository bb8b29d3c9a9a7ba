"""`python -m mcugen` is the `mcugen` command."""

import sys

from mcugen.cli import main

sys.exit(main())
