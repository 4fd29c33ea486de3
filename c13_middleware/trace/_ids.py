"""Trace and span ids. Trace ids are fully random, so the W3C Level 2 ``random`` flag is always honest."""

from __future__ import annotations

import os
import random

_MAX_SPAN = (1 << 64) - 1
_MAX_TRACE = (1 << 128) - 1

# A private Random so user code that seeds the global generator cannot make ids collide;
# reseeded after fork so children do not repeat the parent's sequence.
_random = random.Random()
_getrandbits = _random.getrandbits


def _reseed() -> None:
    _random.seed()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_trace_id() -> int:
    trace_id = _getrandbits(128)
    while not trace_id:
        trace_id = _getrandbits(128)
    return trace_id


def new_span_id() -> int:
    span_id = _getrandbits(64)
    while not span_id:
        span_id = _getrandbits(64)
    return span_id
