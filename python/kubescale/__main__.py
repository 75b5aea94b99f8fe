"""``python -m kubescale``: the ``kubescale`` command line."""

import sys

from kubescale.cli import main

if __name__ == "__main__":
    sys.exit(main())
