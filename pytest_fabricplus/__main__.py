"""``python -m pytest_fabricplus COMMAND``: see :mod:`pytest_fabricplus.cli`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
