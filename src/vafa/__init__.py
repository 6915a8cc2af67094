"""Vafa (وفا): an open-source customer club and loyalty platform."""

__version__ = "0.1.0"
