"""The server request lifecycle shared by the ASGI and WSGI middleware and the framework adapters."""
