"""What both OTLP encodings share: span flags, grouping by resource and scope, and a bounded fragment cache."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from itertools import compress
from operator import not_
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..._version import __version__
from ...trace._resource import SCHEMA_URL
from ...trace._safety import log_once
from ...trace._span import InstrumentationScope

if TYPE_CHECKING:
    from ...propagation._span_context import SpanContext
    from ...trace._resource import Resource
    from ...trace._span import Span

# trace.proto SpanFlags: bits 0-7 are the W3C trace flags; bit 8 says whether bit 9 (the parent, or the linked
# span, is remote) is known. The 22 high bits stay zero for spans created here.
TRACE_FLAGS_MASK = 0x0000_00FF
CONTEXT_HAS_IS_REMOTE_MASK = 0x0000_0100
CONTEXT_IS_REMOTE_MASK = 0x0000_0200

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

SCOPE_PREFIX = "c13_middleware"


def span_flags(context: SpanContext, parent: SpanContext | None) -> int:
    """The span's own W3C flags plus whether its parent is remote (a root span's parent is known not to be)."""
    flags = (context.trace_flags & TRACE_FLAGS_MASK) | CONTEXT_HAS_IS_REMOTE_MASK
    if parent is not None and parent.is_remote:
        flags |= CONTEXT_IS_REMOTE_MASK
    return flags


def link_flags(context: SpanContext) -> int:
    """A link's flags describe the linked context itself."""
    flags = (context.trace_flags & TRACE_FLAGS_MASK) | CONTEXT_HAS_IS_REMOTE_MASK
    if context.is_remote:
        flags |= CONTEXT_IS_REMOTE_MASK
    return flags


def encode_counted(encode: Callable[[Sequence[Span]], bytes], spans: Sequence[Span]) -> tuple[bytes, int]:
    """``(body, spans left out)``: when the batch cannot be encoded, each span is tried alone and those that fail
    are left out (logged once), so that one bad span costs itself, not its batch, and is counted as dropped."""
    try:
        return encode(spans), 0
    except Exception as exc:
        kept = [span for span in spans if _encodes(encode, span)]
        log_once("otlp-encode", "c13_middleware: OTLP: %d span(s) could not be encoded and were dropped: %s",
                 len(spans) - len(kept), exc)  # fmt: skip
        return (encode(kept) if kept else b""), len(spans) - len(kept)


def _encodes(encode: Callable[[Sequence[Span]], bytes], span: Span) -> bool:
    try:
        encode((span,))
    except Exception:
        return False
    return True


def scope_version(scope: str) -> str:
    """Scopes named after this package carry its version; others have none we could know."""
    return __version__ if scope == SCOPE_PREFIX or scope.startswith(SCOPE_PREFIX + ".") else ""


def as_scope(scope: InstrumentationScope | str) -> InstrumentationScope:
    """A bare scope name (an owner of hand-made spans may give one) as a scope."""
    if isinstance(scope, InstrumentationScope):
        return scope
    version = scope_version(scope)
    # c13's own scopes name their attributes after the semantic conventions' version in SCHEMA_URL.
    return InstrumentationScope(scope, version, SCHEMA_URL if version else "")


Groups = list[tuple["Resource", list[tuple[InstrumentationScope, list["Span"]]]]]


def group_spans(spans: Sequence[Span]) -> Groups:
    """Spans by resource, then by instrumentation scope, in first-seen order.

    Resources are grouped by identity (a tracer has one), then groups with equal resources are merged.
    """
    first = spans[0]
    resource, scope = first.resource, first.scope
    for span in spans:
        if span.resource is not resource or span.scope != scope:
            break
    else:  # the common case: one tracer's batch
        return [(resource, [(as_scope(scope), list(spans))])]
    by_resource: dict[int, tuple[Resource, dict[InstrumentationScope | str, list[Span]]]] = {}
    for span in spans:
        entry = by_resource.get(id(span.resource))
        if entry is None:
            entry = by_resource[id(span.resource)] = (span.resource, {})
        entry[1].setdefault(span.scope, []).append(span)
    merged: list[tuple[Resource, dict[InstrumentationScope | str, list[Span]]]] = []
    for res, scopes in by_resource.values():
        for other, other_scopes in merged:
            if other == res:
                for name, members in scopes.items():
                    other_scopes.setdefault(name, []).extend(members)
                break
        else:
            merged.append((res, scopes))
    return [(res, [(as_scope(scope), members) for scope, members in scopes.items()]) for res, scopes in merged]


F = TypeVar("F", bytes, str)


def attribute_cache_key(key: str, value: object) -> Hashable | None:
    """The cache key of an attribute worth caching, or None.

    Strings and ints are keyed by the ``(key, value)`` item itself, so that a span's ``attributes.items()`` can be
    looked up without building keys; bools carry their type (``True == 1``). Floats are not cached (``-0.0 == 0.0``,
    NaN), nor arrays (``(True,) == (1,)``). ``FragmentCache.lookup`` keeps a float or bool from matching an int.
    """
    kind = type(value)
    if kind is str or (kind is int and INT64_MIN <= value <= INT64_MAX):  # type: ignore[operator]
        return (key, value)
    if kind is bool:
        return (key, value, bool)
    return None


A = TypeVar("A")


class FragmentCache(Generic[F]):
    """Encoded attributes (or other repeating parts), bounded in size.

    A group (an attribute key) that shows more than ``max_values_per_key`` distinct values, such as an id or a
    path, stops being cached: its values are encoded each time. Fragments longer than ``max_fragment_size`` are
    not kept. At ``max_entries`` the cache starts over. So it holds at most about ``max_entries *
    max_fragment_size`` bytes.
    """

    __slots__ = (
        "entries",
        "get",
        "_per_key",
        "uncached_keys",
        "max_values_per_key",
        "max_entries",
        "max_fragment_size",
    )

    def __init__(self, *, max_values_per_key: int = 64, max_entries: int = 4096, max_fragment_size: int = 1024) -> None:
        self.entries: dict[Hashable, F] = {}
        self.get: Callable[[Hashable], F | None] = self.entries.get
        self._per_key: dict[Hashable, int] = {}
        self.uncached_keys: set[Hashable] = set()
        self.max_values_per_key = max_values_per_key
        self.max_entries = max_entries
        self.max_fragment_size = max_fragment_size

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, group: Hashable, key: Hashable, make: Callable[[Any, A], F], arg: A) -> F | None:
        """The fragment for ``key`` (made by ``make(group, arg)`` and kept while ``group`` is worth it), or None."""
        fragment = self.entries.get(key)
        if fragment is not None:
            return fragment
        if group in self.uncached_keys:
            return None
        seen = self._per_key.get(group, 0)
        if seen >= self.max_values_per_key:
            self.uncached_keys.add(group)
            return None
        if len(self.entries) >= self.max_entries:
            self.clear()
            seen = 0
        fragment = make(group, arg)
        if len(fragment) <= self.max_fragment_size:
            self.entries[key] = fragment
            self._per_key[group] = seen + 1
        return fragment

    def lookup(self, attributes: Mapping[str, object]) -> list[F | None]:
        """One entry per attribute: its cached fragment or None. The lookups run in C (``map`` over the items)."""
        try:
            found = list(map(self.get, attributes.items()))
        except TypeError:  # an unhashable value (link attributes are not cleaned by the span)
            return [None] * len(attributes)
        kinds = list(map(type, attributes.values()))
        if float in kinds or bool in kinds:  # 1.0 and True equal 1: such a value must not take an int's fragment
            found = [f if kind is str or kind is int else None for f, kind in zip(found, kinds, strict=True)]
        return found

    def resolve(
        self, attributes: Mapping[str, object], found: list[F | None], make: Callable[[str, object], F]
    ) -> list[tuple[str, object]]:
        """After ``lookup``: add the fragments it missed that are worth caching to ``found`` (its None entries stay
        where they were) and return the ``(key, value)`` items the caller must encode itself, in order."""
        direct: list[tuple[str, object]] = []
        made: list[F | None] = []
        uncached = self.uncached_keys
        for item in compress(attributes.items(), map(not_, found)):
            key = item[0]
            if key not in uncached:
                cache_key = attribute_cache_key(key, item[1])
                if cache_key is not None:
                    fragment = self.add(key, cache_key, make, item[1])
                    if fragment is not None:
                        made.append(fragment)
                        continue
            direct.append(item)
        found += made
        return direct

    def clear(self) -> None:
        self.entries.clear()
        self._per_key.clear()
        if len(self.uncached_keys) > self.max_entries:
            self.uncached_keys.clear()
