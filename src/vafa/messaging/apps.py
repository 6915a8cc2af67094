import datetime as dt

from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.messaging"
    label = "messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: these import models, so they are wired once the app registry is ready.
        from vafa.jobs.services import register
        from vafa.messaging.events import take_event
        from vafa.messaging.tasks import greet_occasions, poll_delivery_reports, remind_expiring, send_now
        from vafa.outbox.services import HANDLERS

        # Committed outbox events that a member should hear about become (or join) a queued message.
        HANDLERS["messaging"] = take_event
        register("remind_expiring", dt.timedelta(days=1), remind_expiring)
        register("send_messages", dt.timedelta(seconds=0), send_now)  # after deliver_outbox (outbox's ready)
        register("message_reports", dt.timedelta(minutes=5), poll_delivery_reports)
        register("greetings", dt.timedelta(hours=1), greet_occasions)
