"""A bounded, thread-safe store of profile reports, retrievable by id (LRU eviction)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ._types import ProfileReport

__all__ = ["ProfileStore", "default_store", "get_profile", "store_profile"]


class ProfileStore:
    """Keeps at most ``max_profiles`` reports and about ``max_bytes`` (``ProfileReport.approx_bytes``).

    Eviction is least-recently-used: ``get`` refreshes a report. A report larger than ``max_bytes`` on its own is
    not stored.
    """

    def __init__(self, max_profiles: int = 100, max_bytes: int = 64 * 1024 * 1024) -> None:
        if max_profiles < 1 or max_bytes < 1:
            raise ValueError("max_profiles and max_bytes must be >= 1")
        self.max_profiles = max_profiles
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[ProfileReport, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evicted = 0

    def put(self, report: ProfileReport) -> bool:
        size = report.approx_bytes
        if size > self.max_bytes:
            return False
        with self._lock:
            old = self._items.pop(report.profile_id, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[report.profile_id] = (report, size)
            self._bytes += size
            while len(self._items) > self.max_profiles or self._bytes > self.max_bytes:
                _, (_, evicted_size) = self._items.popitem(last=False)
                self._bytes -= evicted_size
                self.evicted += 1
        return True

    def get(self, profile_id: str) -> ProfileReport | None:
        with self._lock:
            item = self._items.get(profile_id)
            if item is None:
                return None
            self._items.move_to_end(profile_id)
            return item[0]

    def remove(self, profile_id: str) -> bool:
        with self._lock:
            item = self._items.pop(profile_id, None)
            if item is not None:
                self._bytes -= item[1]
            return item is not None

    def ids(self) -> list[str]:
        """Stored ids, least recently used first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, profile_id: object) -> bool:
        return profile_id in self._items


_DEFAULT = ProfileStore()


def default_store() -> ProfileStore:
    """The process-wide store that ``Profiler`` and the middleware use unless given another."""
    return _DEFAULT


def get_profile(profile_id: str) -> ProfileReport | None:
    """A stored profile by id (from ``X-C13-Profile-Id``), or None if unknown or evicted."""
    return _DEFAULT.get(profile_id)


def store_profile(report: ProfileReport) -> bool:
    return _DEFAULT.put(report)
