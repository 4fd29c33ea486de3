"""Outgoing calls: CLIENT spans for HTTP and RPC clients, context injection, and messaging helpers."""
