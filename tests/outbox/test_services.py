"""The outbox's log names events, never their contents (issue 10): payloads hold mobiles and names."""

import logging

from vafa.members.services import sign_up
from vafa.outbox.models import OutboxEvent
from vafa.outbox.services import deliver_due


def test_the_log_carries_event_ids_and_types_only(business, caplog):
    sign_up(business, mobile="09127654321", first_name="Sepideh")
    with caplog.at_level(logging.INFO, logger="vafa.outbox"):
        deliver_due()
    event = OutboxEvent.objects.get(event_type="member.created")
    assert "9127654321" in str(event.payload)  # the payload has the mobile; the log must not
    lines = [r.getMessage() for r in caplog.records if r.name == "vafa.outbox"]
    assert f"event member.created {event.event_id} business {business.pk}" in lines
    text = "\n".join(lines)
    assert "9127654321" not in text and "Sepideh" not in text
