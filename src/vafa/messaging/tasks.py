"""The messaging jobs in vafa.jobs (run by `vafa jobs run-due` and `vafa worker`): `send_messages` every round,
`message_reports` every 5 minutes, `greetings` hourly; `vafa messages send-due` runs all three now."""

from vafa.messaging.occasions import greet_occasions
from vafa.messaging.services import poll_delivery_reports, send_due, send_now

__all__ = ["greet_occasions", "poll_delivery_reports", "send_due", "send_now"]
