"""Combining a list header's field values (RFC 9110 section 5.3) under a size bound, so parsing one is bounded work
whatever the sender put in it: how many fields, how long each, how many commas."""

from __future__ import annotations

from collections.abc import Sequence


def combined_value(values: Sequence[str], max_chars: int) -> str:
    """The field values joined with ``,``, cut to the list elements that end within the first ``max_chars``
    characters. At most ``max_chars + 1`` characters are read: fields past the bound are never looked at."""
    if len(values) == 1:
        value = values[0]
        if not isinstance(value, str):
            raise TypeError("a field value must be a str")
        return value if len(value) <= max_chars else _cut(value[: max_chars + 1])
    parts: list[str] = []
    size = -1  # no comma before the first field
    for value in values:  # each field costs at least its comma, so at most max_chars + 1 fields are read
        if not isinstance(value, str):
            raise TypeError("a field value must be a str")
        size += 1 + len(value)
        if size > max_chars:
            parts.append(value[: len(value) - (size - max_chars) + 1])
            return _cut(",".join(parts))
        parts.append(value)
    return ",".join(parts)


def _cut(text: str) -> str:
    """``text`` is one character over the bound: keep what precedes its last comma (only whole elements)."""
    return text[: max(text.rfind(","), 0)]
