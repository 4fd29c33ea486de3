"""A tiny Django app with real models on SQLite, for the database-span tests (installed by tests/django_app.py)."""
