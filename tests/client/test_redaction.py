"""``ClientSettings.redact_url``: what an outgoing call records as ``url.full`` (docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from c13_middleware.client._core import ClientSettings
from c13_middleware.trace._config import Config


@pytest.fixture
def redact() -> Callable[[str], str]:
    return ClientSettings(Config()).redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h/p?%74oken=abc&q=1", "https://h/p?%74oken=REDACTED&q=1"),
        ("https://h/p?q=1&TOK%45N=abc", "https://h/p?q=1&TOK%45N=REDACTED"),
        ("https://h/p?access%5Ftoken=abc", "https://h/p?access%5Ftoken=REDACTED"),
        ("https://h/p?Api-Key=abc", "https://h/p?Api-Key=REDACTED"),
        ("https://h/p?api%2Dkey=abc", "https://h/p?api%2Dkey=REDACTED"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101"
            "&X-Amz-Date=20260101T000000Z&X-Amz-Security-Token=tok&X-Amz-Signature=abc",
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED"
            "&X-Amz-Date=20260101T000000Z&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED",
        ),
        ("https://h/cb?code=abc&state=xyz", "https://h/cb?code=REDACTED&state=xyz"),
        ("https://h/p?passwd=1&jwt=2&session_id=3", "https://h/p?passwd=REDACTED&jwt=REDACTED&session_id=REDACTED"),
        ("https://h/p?secret=1&client_secret=2", "https://h/p?secret=REDACTED&client_secret=REDACTED"),
    ],
)
def test_encoded_and_variant_names_are_redacted(redact: Callable[[str], str], url: str, expected: str) -> None:
    assert redact(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h/cb#access_token=abc&state=x", "https://h/cb"),
        ("https://h/p?q=1#frag", "https://h/p?q=1"),
        ("https://u:p@h/p?token=1#x", "https://REDACTED:REDACTED@h/p?token=REDACTED"),
        ("https://h/p?q=a#b@c", "https://h/p?q=a"),  # "@" in the fragment is not userinfo
    ],
)
def test_the_fragment_is_never_recorded(redact: Callable[[str], str], url: str, expected: str) -> None:
    assert redact(url) == expected


def test_the_fragment_is_dropped_without_sensitive_names() -> None:
    redact = ClientSettings(Config(sensitive_query_params=())).redact_url
    assert redact("https://h/p?token=1#frag") == "https://h/p?token=1"


@pytest.mark.parametrize(
    "url",
    ["https://h/p", "https://h/p?q=1", "https://h/p?q=a+b&r=%20", "https://h/p?to+ken=1&tokens=2", "https://h/%74"],
)
def test_other_urls_are_unchanged(redact: Callable[[str], str], url: str) -> None:
    assert redact(url) == url
