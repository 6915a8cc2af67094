"""The portal's own filters; numbers, money and dates use the panel's (vafa.panel.templatetags.panel)."""

from django import template
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from vafa.core.messages import message

register = template.Library()

CLAIM_STATUS = {"accepted": _("Accepted"), "pending": _("Waiting for review"), "approved": _("Approved"),
                "rejected": _("Rejected")}


@register.filter
def problem(code) -> str:
    """A message code (a claim's flag) in the reader's language."""
    return message(str(code), "fa" if (translation.get_language() or "fa").startswith("fa") else "en")


@register.filter
def claim_status(value) -> str:
    return str(CLAIM_STATUS.get(value, value))
