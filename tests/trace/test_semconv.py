"""The shared host and query helpers: total on any input, bounded in what they keep (docs/security.md)."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from c13_middleware.trace._config import DEFAULT_SENSITIVE_QUERY_PARAMS
from c13_middleware.trace._semconv import is_ascii_number, query_name, redact_query, split_address, split_host

SENSITIVE = frozenset(name.lower() for name in DEFAULT_SENSITIVE_QUERY_PARAMS)


@pytest.mark.parametrize("port", ["²", "¹²³", "٣", "８０", "1²", "𝟖𝟎"])
def test_a_port_in_non_ascii_digits_is_absent_not_an_error(port: str) -> None:
    assert port.isdigit()  # what made int() raise or read another number
    assert split_address(f"x:{port}", 80) == ("x", None)
    assert split_address(f"[::1]:{port}", 80) == ("::1", None)
    assert split_host(f"x:{port}", "http") == ("x", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8080", True), ("0", True), ("65535", True), ("123456", False), ("", False), ("+1", False), ("1 ", False)],
)
def test_is_ascii_number(text: str, expected: bool) -> None:
    assert is_ascii_number(text, 5) is expected


def test_long_hosts_are_split_correctly_and_not_kept() -> None:
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(600):
            host = f"h{i}" + "x" * 100_000
            assert split_host(f"{host}:81", "http") == (host, 81)
            assert split_host(host, "https") == (host, 443)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # Unbounded, the cache held 512 of these hosts (51 MB); short hosts are still cached.
    assert kept < 2_000_000
    assert split_host("short.example:8080", "http") == ("short.example", 8080)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("token", "token"),
        ("TOKEN", "token"),
        ("%74oken", "token"),
        ("%54%4F%4B%45%4E", "token"),
        ("access%5Ftoken", "access_token"),
        ("api+key", "api key"),
        ("api%2Dkey", "api-key"),
        ("x%2Damz%2dsignature", "x-amz-signature"),
        ("%ff%fe", "\ufffd\ufffd"),  # invalid UTF-8: replaced, never raises
        ("%zz", "%zz"),
    ],
)
def test_query_name_decodes_as_form_decoding_does(raw: str, name: str) -> None:
    assert query_name(raw) == name


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("%74oken=abc&q=1", "%74oken=REDACTED&q=1"),
        ("ToKeN=abc", "ToKeN=REDACTED"),
        ("Access%5Ftoken=abc&page=2", "Access%5Ftoken=REDACTED&page=2"),
        (
            "X-Amz-Signature=s&X-Amz-Credential=c&X-Amz-Security-Token=t&X-Amz-Date=d",
            "X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Date=d",
        ),
        (
            "api-key=1&passwd=2&jwt=3&session_id=4&secret=5&client_secret=6",
            "api-key=REDACTED&passwd=REDACTED&jwt=REDACTED&session_id=REDACTED&secret=REDACTED&client_secret=REDACTED",
        ),
        ("code=abc&state=xyz", "code=REDACTED&state=xyz"),
        ("code=abc", "code=REDACTED"),
        ("q=a+b&to+ken=1&tokens=2", "q=a+b&to+ken=1&tokens=2"),
        ("token", "token"),  # no value: nothing to redact
    ],
)
def test_redact_query_matches_decoded_names(query: str, expected: str) -> None:
    assert redact_query(query, SENSITIVE) == expected
