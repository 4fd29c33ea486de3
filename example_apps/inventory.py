"""The inventory service: a Flask app. Run: ``python -m example_apps.inventory --port 8001`` (werkzeug)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

from flask import Flask, Response, jsonify

from c13_middleware.integrations.flask import C13
from example_apps.telemetry import setup

tracer = setup("inventory")
app = Flask(__name__)
C13(app)

STOCK = {1: 12, 2: 0, 3: 5}


@app.get("/items/<int:item_id>")
def item(item_id: int) -> Response:
    with tracer.start_as_current_span("lookup stock") as span:
        span.set_attribute("item.id", item_id)
        quantity = STOCK.get(item_id, 0)
    return jsonify({"id": item_id, "in_stock": quantity})


@app.get("/stream")
def stream() -> Response:
    def lines() -> Iterator[str]:
        for item_id, quantity in STOCK.items():
            time.sleep(0.05)
            yield f"{item_id},{quantity}\n"

    return Response(lines(), mimetype="text/csv")


@app.get("/slow")
def slow() -> str:
    time.sleep(0.3)
    return "slow\n"


@app.get("/fail")
def fail() -> str:
    raise RuntimeError("the inventory failed on purpose")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", args.port, app, threaded=True)


if __name__ == "__main__":
    main()
