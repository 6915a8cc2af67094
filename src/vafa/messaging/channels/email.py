"""Email over SMTP through Django's email backend (EMAIL_HOST/EMAIL_PORT …, from VAFA_SMTP_* in settings): an
HTML part (right-to-left for Persian) and a plain-text part."""

from __future__ import annotations

import logging
import smtplib

from django.core.mail import EmailMultiAlternatives, get_connection

from vafa.messaging.channels.base import FAILED, RETRY, SENT, Outcome, Outgoing

log = logging.getLogger("vafa.messaging.email")


class EmailChannel:
    name = "email"
    batch_size = 50

    def send(self, items: list[Outgoing]) -> list[Outcome]:
        outcomes = []
        try:
            connection = get_connection(fail_silently=False)
            connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("SMTP server unreachable: %s", exc.__class__.__name__)
            return [Outcome(i.message_id, RETRY, error="smtp_unreachable") for i in items]
        try:
            for item in items:
                mail = EmailMultiAlternatives(subject=item.subject, body=item.text, from_email=item.sender or None,
                                              to=[item.to], connection=connection,
                                              headers={"X-Vafa-Message-Id": str(item.message_id)})
                if item.html:
                    mail.attach_alternative(item.html, "text/html")
                try:
                    mail.send()
                except smtplib.SMTPRecipientsRefused:
                    outcomes.append(Outcome(item.message_id, FAILED, error="recipient_refused"))
                except smtplib.SMTPResponseException as exc:
                    temporary = 400 <= exc.smtp_code < 500
                    outcomes.append(Outcome(item.message_id, RETRY if temporary else FAILED,
                                            error=f"smtp_{exc.smtp_code}"))
                except (OSError, smtplib.SMTPException):
                    outcomes.append(Outcome(item.message_id, RETRY, error="smtp_failed"))
                else:
                    outcomes.append(Outcome(item.message_id, SENT))
        finally:
            connection.close()
        return outcomes

    def find_sent(self, items: list[Outgoing]) -> dict[int, Outcome]:
        return {}  # SMTP cannot be asked: a mail cut off by a crash is sent again (at least once)
