"""``python -m c13_middleware view ...``: the same as the ``c13`` command."""

from __future__ import annotations

import sys

from .view._cli import main

if __name__ == "__main__":
    sys.exit(main())
