from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("module", "adapter"), [("sqlalchemy", "sqlalchemy"), ("redis", "redis")])
def test_database_adapter_without_its_client_names_the_extra(module: str, adapter: str) -> None:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"  # makes `import <client>` fail as if it were not installed
        "try:\n"
        f"    import c13_middleware.integrations.{adapter}\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert f"pip install 'c13-middleware[{adapter}]'" in result.stdout, result.stdout + result.stderr


def test_database_spans_need_no_opentelemetry_package() -> None:
    code = (
        "import sys\n"
        "for name in ('opentelemetry', 'opentelemetry.trace', 'opentelemetry.sdk'):\n"
        "    sys.modules[name] = None\n"
        "import sqlalchemy\n"
        "from c13_middleware import InMemoryExporter, Tracer\n"
        "from c13_middleware.integrations.sqlalchemy import instrument\n"
        "exporter = InMemoryExporter()\n"
        "tracer = Tracer(exporter=exporter, export_mode='simple')\n"
        "engine = instrument(sqlalchemy.create_engine('sqlite://'))\n"
        "with tracer.start_as_current_span('GET /'), engine.connect() as connection:\n"
        "    connection.execute(sqlalchemy.text('SELECT 1'))\n"
        "print(sorted(span.name for span in exporter.get_finished_spans()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "['GET /', 'SELECT']", result.stdout + result.stderr
