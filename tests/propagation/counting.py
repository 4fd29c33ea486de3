"""Field values that count how many characters a parser was handed: a parser bounded by input size must stop
asking for fields once it has read enough."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class CountingFields(list[str]):
    handed = 0

    def __iter__(self) -> Iterator[str]:
        for value in super().__iter__():
            self.handed += len(value) + 1
            yield value

    def __getitem__(self, index: Any) -> Any:
        value = super().__getitem__(index)
        self.handed += len(value) + 1 if isinstance(value, str) else sum(len(v) + 1 for v in value)
        return value


FLOODS = {
    "1M comma fields": [","] * 1_000_000,
    "97 fields of 8000 commas": ["," * 8_000] * 97,
    "100k empty fields": [""] * 100_000,
    "100k small members": ["k=v"] * 100_000,
}


def max_handed(bound: int, fields: list[str]) -> int:
    """Reading stops at the first field that crosses ``bound`` (each field costs its length plus a comma)."""
    return 2 * (bound + 1) + max(len(field) for field in fields)
