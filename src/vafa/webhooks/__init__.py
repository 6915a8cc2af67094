"""Webhooks: a business's HTTP endpoints that receive its events, signed and retried (see services.py)."""
