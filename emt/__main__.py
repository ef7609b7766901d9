"""``python -m emt``: the command line of :mod:`emt.cli`: ``sweep`` (chapter "How general is the
circuit?", paper Sec. 7), ``analyze`` (chapter "Analyse your own network") and ``bench``."""

import sys

from emt.cli import main

sys.exit(main())
