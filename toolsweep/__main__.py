"""``python -m toolsweep`` is the ``toolsweep`` command."""

import sys

from toolsweep.cli import main

sys.exit(main())
