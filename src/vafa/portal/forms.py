from django import forms
from django.utils.translation import gettext_lazy as _

from vafa.panel.forms import AmountField


class PortalForm(forms.Form):
    """Bootstrap's look on every input (a checkbox gets its own class)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            checkbox = isinstance(field.widget, forms.CheckboxInput)
            field.widget.attrs.setdefault("class", "form-check-input" if checkbox else "form-control")


class MobileForm(PortalForm):
    mobile = forms.CharField(label=_("Mobile number"), max_length=32, widget=forms.TextInput(
        attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel", "dir": "ltr", "autofocus": ""}))
    ref = forms.CharField(max_length=32, required=False, widget=forms.HiddenInput)


class CodeForm(PortalForm):
    code = forms.CharField(label=_("Code from the SMS"), max_length=8, widget=forms.TextInput(
        attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "dir": "ltr", "autofocus": ""}))


class JoinForm(PortalForm):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    ref = forms.CharField(label=_("Referral code (optional)"), max_length=32, required=False)


class ConvertForm(PortalForm):
    points = AmountField(label=_("Points to convert"))


class ProfileForm(PortalForm):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False,
                            widget=forms.EmailInput(attrs={"dir": "ltr"}))
    birth_date = forms.CharField(label=_("Birth date"), max_length=20, required=False,
                                 widget=forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"}))
    anniversary = forms.CharField(label=_("Wedding anniversary"), max_length=20, required=False,
                                  widget=forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"}))
    interests = forms.CharField(label=_("Interests (separated by commas)"), max_length=500, required=False)
    marketing = forms.BooleanField(label=_("Send me offers by SMS"), required=False)


class ClaimForm(PortalForm):
    receipt = forms.CharField(label=_("Receipt number"), max_length=64, widget=forms.TextInput(attrs={"dir": "ltr"}))
    branch = forms.ChoiceField(label=_("Branch"))
    amount = AmountField(label=_("Amount paid"))
    purchased_on = forms.CharField(label=_("Purchase date"), max_length=20,
                                   widget=forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"}))
    photo = forms.FileField(label=_("Photo of the receipt (optional)"), required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))

    def __init__(self, *args, branches=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branch"].choices = [(b.code, b.name) for b in branches]
