"""The messaging job: `send_messages` in vafa.jobs (run by `vafa jobs run-due` and `vafa worker`)."""

from vafa.messaging.services import send_due

__all__ = ["send_due"]
