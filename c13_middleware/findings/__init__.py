"""Findings: what was wrong with a request, read from its finished spans (N+1 queries, slow queries, sequential
calls that could run concurrently) and, through the profiler's adapter, from its profile.

See docs/findings.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._detect import detect_findings
    from ._processor import FindingsProcessor
    from ._types import CodeSite, Finding, FindingThresholds

__all__ = ["CodeSite", "Finding", "FindingThresholds", "FindingsProcessor", "detect_findings"]

_EXPORTS = {
    "._detect": ("detect_findings",),
    "._processor": ("FindingsProcessor",),
    "._types": ("CodeSite", "Finding", "FindingThresholds"),
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
