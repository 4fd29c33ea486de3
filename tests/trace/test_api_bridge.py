"""``configure``'s ``opentelemetry`` option through the trace layer's installer hook: what it does when no bridge is
registered, when the API is missing, and when installing fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from c13_middleware import configure
from c13_middleware.trace._api_bridge import set_opentelemetry_installer


@pytest.fixture
def installs() -> Iterator[list[bool]]:
    """Records the installer's calls; the test picks what it does by replacing it."""
    calls: list[bool] = []
    previous = set_opentelemetry_installer(calls.append)
    try:
        yield calls
    finally:
        set_opentelemetry_installer(previous)


def test_the_option_decides_whether_and_how_the_installer_runs(installs: list[bool]) -> None:
    configure(opentelemetry=False)
    configure()  # the default: install if the API is there (the installer finds out)
    configure(opentelemetry=True)
    assert installs == [False, True]


def test_asking_for_the_bridge_with_none_registered_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    previous = set_opentelemetry_installer(None)
    try:
        with caplog.at_level(logging.WARNING, logger="c13_middleware"):
            configure()  # the default asks for nothing in particular: silent
            assert "no bridge is registered" not in caplog.text
            configure(opentelemetry=True)
    finally:
        set_opentelemetry_installer(previous)
    assert "opentelemetry=True, but no bridge is registered" in caplog.text


def test_a_missing_api_fails_only_when_the_bridge_was_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    def without_api(explicit: bool) -> None:
        raise ImportError("No module named 'opentelemetry'")

    previous = set_opentelemetry_installer(without_api)
    try:
        configure()  # by default, no API means no bridge: nothing to say
        with pytest.raises(ImportError, match="opentelemetry"):
            configure(opentelemetry=True)
    finally:
        set_opentelemetry_installer(previous)
    assert "OpenTelemetry" not in caplog.text


def test_an_installer_that_fails_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken(explicit: bool) -> None:
        raise RuntimeError("provider already locked")

    previous = set_opentelemetry_installer(broken)
    try:
        with caplog.at_level(logging.WARNING, logger="c13_middleware"):
            configure(opentelemetry=True)
    finally:
        set_opentelemetry_installer(previous)
    assert "installing the OpenTelemetry API bridge failed" in caplog.text and "provider already locked" in caplog.text
