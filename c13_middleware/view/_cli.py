"""``c13 view``: the command line (``c13`` console script, ``python -m c13_middleware view``)."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ._app import PortInUse, ViewApp, ViewOptions
from ._http import is_loopback
from ._pages import serve_page
from ._store import default_db_path

_RETENTION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_retention(text: str) -> float:
    match = _RETENTION.fullmatch(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m, 24h or 7d, got {text!r}")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (0-65535), got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c13", description="c13_middleware tools")
    commands = parser.add_subparsers(dest="command", required=True)
    view = commands.add_parser(
        "view",
        help="receive OTLP traces and profiles, store them, and serve them",
        description="One process: an OTLP receiver, a SQLite store and the query API / UI.",
    )
    view.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other "
                      "needs --token)")  # fmt: skip
    view.add_argument("--otlp-http-port", type=_port, default=4318, help="OTLP/HTTP receiver (default 4318)")
    view.add_argument("--otlp-grpc-port", type=_port, default=4317, help="OTLP/gRPC receiver (default 4317)")
    view.add_argument("--ui-port", type=_port, default=16686, help="UI and query API (default 16686)")
    view.add_argument("--db", type=Path, default=None, help=f"SQLite file (default {default_db_path()})")
    view.add_argument("--max-spans", type=_positive, default=1_000_000, help="spans kept; the oldest traces go first")
    view.add_argument("--retention", type=parse_retention, default=7 * 86400.0, help="how long traces are kept "
                      "(e.g. 30m, 24h, 7d; default 7d)")  # fmt: skip
    view.add_argument("--token", default=None, help="required on every request (default: $C13_VIEW_TOKEN)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    token = args.token or os.environ.get("C13_VIEW_TOKEN") or None
    if not is_loopback(args.host) and token is None:
        print(f"c13 view: listening on {args.host} exposes every trace to the network: give a --token (or set "
              "C13_VIEW_TOKEN), or keep the default --host 127.0.0.1", file=sys.stderr)  # fmt: skip
        return 2
    options = ViewOptions(
        db=args.db or default_db_path(), host=args.host, otlp_http_port=args.otlp_http_port,
        otlp_grpc_port=args.otlp_grpc_port, ui_port=args.ui_port, max_spans=args.max_spans,
        retention_s=args.retention, token=token,
    )  # fmt: skip
    try:
        app = ViewApp(options)
    except Exception as exc:
        print(f"c13 view: cannot open the store {options.db}: {exc}", file=sys.stderr)
        return 1
    app.pages = serve_page
    try:
        app.start()
    except PortInUse as exc:
        print(f"c13 view: {exc}", file=sys.stderr)
        return 1
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"c13 view: UI and API on http://{host}:{app.ports['ui']}/", flush=True)
    print(f"c13 view: OTLP/HTTP on http://{host}:{app.ports['otlp_http']}", flush=True)
    if "otlp_grpc" in app.ports:
        print(f"c13 view: OTLP/gRPC on {host}:{app.ports['otlp_grpc']}", flush=True)
    print(f"c13 view: storing in {options.db}", flush=True)
    print(f"c13 view: send with OTEL_EXPORTER_OTLP_ENDPOINT=http://{host}:{app.ports['otlp_http']} <your app>",
          flush=True)  # fmt: skip
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    finally:
        app.stop()
    return 0


__all__ = ["build_parser", "main", "parse_retention"]
