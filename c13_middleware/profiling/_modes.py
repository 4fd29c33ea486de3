"""What MEMORY and EXACT add to a session: started after the sampler, stopped around it."""

from __future__ import annotations

from typing import Any

from ._exact import ExactRecorder
from ._memory import MemoryRecorder
from ._types import AllocationSite, MemoryStats, ProfileType

__all__ = ["ModeRecorders"]


class ModeRecorders:
    def __init__(self, profile_type: ProfileType, session: Any) -> None:
        self.memory = MemoryRecorder() if profile_type is ProfileType.MEMORY else None
        self.exact = ExactRecorder(session) if profile_type is ProfileType.EXACT else None
        self.notes: list[str] = []

    def start(self) -> None:
        """In the session's thread, last, so that neither records the profiler's own start-up."""
        if self.memory is not None:
            self.memory.start()
        if self.exact is not None:
            self.exact.install()
            if self.exact.unavailable:
                self.notes.append(self.exact.unavailable)

    def stop_exact(self) -> None:
        """First thing on stop, so the stop itself is not counted."""
        if self.exact is not None:
            self.exact.uninstall()

    def stop_memory(self) -> None:
        if self.memory is not None:
            self.memory.stop()

    def exact_results(self) -> dict[Any, tuple[int, float, float, float]] | None:
        if self.exact is None or self.exact.unavailable:
            return None
        return self.exact.results()

    def memory_results(self) -> tuple[MemoryStats | None, tuple[AllocationSite, ...]]:
        return (self.memory.stats, self.memory.sites) if self.memory is not None else (None, ())
