"""Channels a message leaves through. Each SMS provider is one adapter module with the same small interface
(`SmsChannel`); `channel_for(settings)` picks the business's. Adding a provider is one more module here and one
more `Provider` choice."""

from __future__ import annotations

from vafa.messaging.channels import console, file, kavenegar
from vafa.messaging.channels.base import (
    BLOCKED,
    DELIVERED,
    FAILED,
    RETRY,
    SENT,
    UNKNOWN,
    Outcome,
    Outgoing,
    SmsChannel,
    now_iso,
)

__all__ = ["BLOCKED", "DELIVERED", "FAILED", "RETRY", "SENT", "UNKNOWN", "Outcome", "Outgoing", "SmsChannel", "now_iso", "channel_for"]


def channel_for(provider: str, api_key: str = "") -> SmsChannel | None:
    """The adapter for a provider name, or None when the business sends no SMS."""
    if provider == "kavenegar":
        return kavenegar.KavenegarChannel(api_key)
    if provider == "file":
        return file.FileChannel()
    if provider == "console":
        return console.ConsoleChannel()
    return None
