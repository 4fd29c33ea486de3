"""The web UI's pages: one HTML shell for every page path and the static assets (plain JS modules and CSS shipped in
the wheel under ``view/static/``), all with a strict Content-Security-Policy.

The pages read the JSON of ``/api/...`` and insert every value from a span as text (docs/viewer.md, "Security").
With a token, a page opened once with ``?token=`` gets the API's ``HttpOnly``, ``SameSite=Strict`` cookie, which the
pages' own requests then carry; the script removes the token from the address bar.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from ._api import ApiHandler

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Jaeger's paths where they exist: /search, /trace/{id}; c13's own: /services (RED), /compare.
_PAGE = re.compile(r"/(?:search|services|compare|trace/[0-9a-fA-F]{1,32})?/?")
_ASSET = re.compile(r"/static/([a-z0-9_-]{1,40}\.(js|css))")
_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


@cache
def asset(name: str) -> bytes | None:
    """A file of ``view/static/`` (read once), or None."""
    try:
        return resources.files(__package__).joinpath("static").joinpath(name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def serve_page(handler: ApiHandler, path: str, params: dict[str, list[str]]) -> None:
    """``ViewApp.pages``: the HTML shell for a page path, a static asset, else 404."""
    headers = dict(SECURITY_HEADERS)
    if _PAGE.fullmatch(path):
        body = asset("index.html")
        if body is not None:
            handler.send_bytes(200, body, "text/html; charset=utf-8", headers)
            return
    elif (match := _ASSET.fullmatch(path)) is not None:
        body = asset(match.group(1))
        if body is not None:
            handler.send_bytes(200, body, _TYPES[match.group(2)], headers)
            return
    handler.send_bytes(404, b"not found\n", "text/plain; charset=utf-8", headers)


__all__ = ["CSP", "asset", "serve_page"]
