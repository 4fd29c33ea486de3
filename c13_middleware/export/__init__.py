"""Where spans and measurements leave the process: OTLP, Prometheus metrics and log correlation."""
