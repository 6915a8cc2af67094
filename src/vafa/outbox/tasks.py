from vafa.outbox.services import deliver_due

__all__ = ["deliver_due"]
