"""Framework and client adapters, installed as ``c13_middleware.integrations``.

Each module imports its framework lazily and names the extra to install when it is missing.
"""

from __future__ import annotations
