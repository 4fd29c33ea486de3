"""Spans and the pipeline that records them: span, tracer, sampling, processors, exporters, resource, context,
limits and the shared configuration. Depends only on ``c13_middleware.propagation``."""
