from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.messaging"
    label = "messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from vafa.messaging.events import take_event
        from vafa.outbox.services import HANDLERS

        # Committed outbox events that a member should hear about become (or join) a queued message.
        HANDLERS["messaging"] = take_event
