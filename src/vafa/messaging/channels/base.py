"""What every channel shares: the message handed over, its outcome and the adapter interface."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

# Outcome states: "sent" (the provider took it), "delivered", "failed" (permanent, with the reason), "blocked"
# (the operator's blacklist), "retry" (refused for now: try again later with backoff), "unknown" (no answer: a
# timeout or a cut connection; the provider may have taken it, so ask it by our id before sending again).
SENT, DELIVERED, FAILED, BLOCKED, RETRY, UNKNOWN = "sent", "delivered", "failed", "blocked", "retry", "unknown"


@dataclass(frozen=True)
class Outgoing:
    message_id: int
    to: str  # E.164 for SMS, an address for email
    text: str
    sender: str = ""
    kind: str = ""
    member_id: int | None = None
    subject: str = ""
    html: str = ""


@dataclass(frozen=True)
class Outcome:
    message_id: int
    state: str
    provider_message_id: str = ""
    error: str = ""
    cost: int = 0
    extra: dict = field(default_factory=dict)


class SmsChannel(Protocol):
    name: str
    batch_size: int

    def send(self, items: list[Outgoing]) -> list[Outcome]:
        """Hand the messages over; one outcome per item, in order."""

    def find_sent(self, items: list[Outgoing]) -> dict[int, Outcome]:
        """Which of these (claimed by a worker that died) the provider already took, by our message id."""

    def poll_status(self, provider_ids: list[str]) -> dict[str, str]:
        """Delivery reports: provider message id → one of the outcome states (absent: not final yet)."""

    def send_code(self, to: str, code: str, text: str, template: str, message_id: int) -> Outcome:
        """A one-time code: the provider's template service when it has one, else `text` as a plain SMS."""

    def account_info(self) -> dict:
        """What the provider says about the account (credit, expiry)."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
