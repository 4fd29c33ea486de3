"""W3C Trace Context and Baggage: the span context, ``traceparent``, ``tracestate``, ``baggage`` and propagators.

The lowest layer: it imports nothing else from c13, and it is the only home of the W3C header rules.
"""
