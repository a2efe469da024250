"""``python -m xpnn``: the same as the ``xpnn`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
