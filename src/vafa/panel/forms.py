"""Forms post through the same services as the API. A service's InvalidInput (field codes) and other VafaErrors
become errors beside the fields, in the operator's language; nothing is written."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.utils import translation

from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, NotFound, VafaError
from vafa.core.messages import message
from vafa.core.money import format_number


def run_service(form: forms.Form, call: Callable):
    """Calls a service; on a VafaError adds its messages to the form (beside the field when the field is on the
    form) and answers None. The service's own transaction means nothing was written. An object that is not the
    business's (NotFound) is not a form error: it goes on to the 404 page."""
    language = "fa" if (translation.get_language() or "fa").startswith("fa") else "en"
    try:
        return call()
    except NotFound:
        raise
    except InvalidInput as exc:
        for error in exc.errors:
            name = error["field"].split(".")[0]  # "paid_statuses.0": beside the paid_statuses field
            name = name if name in form.fields else None
            form.add_error(name, message(error["message"], language))
    except VafaError as exc:
        form.add_error(None, message(exc.detail, language))
    return None


class AmountField(forms.CharField):
    """An integer typed in any digits and with any thousands separators (۲۵۰٬۰۰۰, 250,000)."""

    def __init__(self, *, signed: bool = False, **kwargs) -> None:
        self.signed = signed
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        """An integer shown as the operator writes it: ۱۰۰٬۰۰۰ on a Persian page."""
        if isinstance(value, int) and not isinstance(value, bool):
            return format_number(value, "fa" if (translation.get_language() or "fa").startswith("fa") else "en")
        return value

    def to_python(self, value):
        text = to_ascii_digits(super().to_python(value) or "").replace(",", "").replace("٬", "").replace(" ", "")
        if not text and not self.required:
            return None
        body = text[1:] if self.signed and text[:1] in "+-" else text
        if not body.isdigit():
            raise forms.ValidationError(message("must_be_integer", translation.get_language() or "fa"))
        return int(text)
