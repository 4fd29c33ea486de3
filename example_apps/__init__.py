"""Example services for the demo: a Starlette gateway, a Flask inventory and a Django accounts service."""
