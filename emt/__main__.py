"""``python -m emt``: the command line of :mod:`emt.cli` (``sweep``; chapter "How general is the
circuit?", paper Sec. 7)."""

import sys

from emt.cli import main

sys.exit(main())
