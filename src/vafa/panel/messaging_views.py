"""Messaging in the back office (issue 13's screens): the SMS panel (broadcasts), the templates with a live
preview, the settings with a test send and the provider's credit, and a member's messages. Every form posts
through the messaging services the API calls, with the API's checks: settings, templates and sending a broadcast
need the admin scope (owner or manager); the broadcast list is a whole-business read (an analyst reads it, a
cashier bound to branches does not); the preview, like the API's, is a read."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from vafa.access.models import Scope
from vafa.access.permissions import Forbidden
from vafa.core.calendar import JALALI_MONTHS, parse_date
from vafa.core.digits import to_ascii_digits, to_persian_digits
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.messages import message
from vafa.members.models import Member
from vafa.members.selectors import find_member, member_by_id
from vafa.messaging import broadcasts, selectors, services, templates
from vafa.messaging.models import Broadcast, Message
from vafa.panel.auth import panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.labels import LABELS, label
from vafa.panel.selectors import tier_names
from vafa.panel.tables import Column, Table
from vafa.panel.templatetags.panel import num
from vafa.tenancy.models import Branch

AREA = "messaging"  # the API's area for settings, templates and broadcasts
SENT_KINDS = templates.TRANSACTIONAL_KINDS + templates.INFORMATIONAL_KINDS  # the kinds a business may turn off
TIME_INPUT = forms.TimeInput(attrs={"type": "time", "class": "ltr"}, format="%H:%M")


def _language() -> str:
    return "fa" if (translation.get_language() or "fa").startswith("fa") else "en"


def _tabs(request) -> list[tuple[str, str, str]]:
    """The messaging tabs this operator may open (the admin ones only with the admin scope)."""
    tabs = [("messaging", "panel:messaging", _("SMS panel"))]
    try:
        request.principal.require(Scope.ADMIN, area=AREA)
    except Forbidden:
        return tabs
    return tabs + [("templates", "panel:messaging_templates", _("Templates")),
                   ("settings", "panel:messaging_settings", _("Settings"))]


def _render(request, template: str, tab: str, context: dict, status: int = 200):
    return render(request, f"panel/messaging/{template}.html", {"tabs": _tabs(request), "tab": tab, **context},
                  status=status)


def _fields_renamed(call: Callable, rename: Callable[[str], tuple[str, str]]) -> Callable:
    """The service's error fields as the form names them (quiet_hours → quiet_start, 0.text → text_fa …);
    `rename` answers the form's field and a suffix for the message (the line of a holiday, a variable's name)."""

    def wrapped():
        try:
            return call()
        except InvalidInput as exc:
            errors = []
            for error in exc.errors:
                code, _sep, detail = str(error["message"]).partition(": ")
                field, suffix = rename(error["field"])
                text = message(code, _language())
                extra = " ".join(filter(None, [detail, suffix]))
                errors.append({"field": field, "message": f"{text}: {extra}" if extra else text})
            raise InvalidInput(errors=errors) from None

    return wrapped


class StyledForm(forms.Form):
    """Django's own widgets with Bootstrap's classes (panel/messaging/field.html lays them out)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxSelectMultiple):
                continue  # its class would go on the wrapping <div>: panel.css styles .check-grid instead
            kind = getattr(field.widget, "input_type", "")
            css = {"select": "form-select", "checkbox": "form-check-input"}.get(kind, "form-control")
            field.widget.attrs["class"] = f"{css} {field.widget.attrs.get('class', '')}".strip()


# --- settings ---------------------------------------------------------------------------------------------------

class SettingsForm(StyledForm):
    """The API's settings (PUT /messaging/settings) as fields; the service validates them."""

    sms_provider = forms.ChoiceField(label=gettext_lazy("SMS provider"), choices=list(LABELS["sms_provider"].items()))
    sms_api_key = forms.CharField(label=gettext_lazy("Provider API key"), required=False, strip=True,
                                  widget=forms.PasswordInput(attrs={"autocomplete": "off", "class": "ltr"}))
    clear_api_key = forms.BooleanField(label=gettext_lazy("Remove the stored key"), required=False)
    sms_sender = forms.CharField(label=gettext_lazy("Advertising line (promotional messages)"), required=False,
                                 widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "ltr"}))
    sms_service_sender = forms.CharField(label=gettext_lazy("Service line (transactional and informational)"),
                                         required=False,
                                         widget=forms.TextInput(attrs={"inputmode": "numeric", "class": "ltr"}))
    price_per_part = AmountField(label=gettext_lazy("Price of one SMS part"))
    quiet_start = forms.CharField(label=gettext_lazy("Promotional messages from"), widget=TIME_INPUT)
    quiet_end = forms.CharField(label=gettext_lazy("until"), widget=TIME_INPUT)
    opt_out_word = forms.CharField(label=gettext_lazy("Opt-out word (a member replies with it)"), required=False)
    admin_mobile = forms.CharField(label=gettext_lazy("Admin mobile (told of every gift request)"), required=False,
                                   widget=forms.TextInput(attrs={"inputmode": "tel"}))
    email_from = forms.CharField(label=gettext_lazy("Email sender address"), required=False,
                                 widget=forms.TextInput(attrs={"class": "ltr"}))
    enabled_kinds = forms.MultipleChoiceField(label=gettext_lazy("Messages sent"), required=False,
                                              widget=forms.CheckboxSelectMultiple,
                                              choices=[(k, LABELS["message_kind"][k]) for k in SENT_KINDS])
    expiry_reminder_days = AmountField(label=gettext_lazy("Remind members of expiring credit, days before"))
    email_channel = forms.ChoiceField(label=gettext_lazy("Email to members who have an address"),
                                      choices=[("off", gettext_lazy("No email: SMS only")),
                                               ("also", gettext_lazy("Email as well as SMS")),
                                               ("instead", gettext_lazy("Email instead of SMS"))])
    birthday_on = forms.ChoiceField(label=gettext_lazy("Birthday greeting"),
                                    choices=[("day", gettext_lazy("on the birthday")),
                                             ("month", gettext_lazy("once in the birth month"))])
    otp_template = forms.CharField(label=gettext_lazy("Kavenegar template for one-time codes (verify/lookup)"),
                                   required=False, widget=forms.TextInput(attrs={"class": "ltr"}))
    holidays = forms.CharField(label=gettext_lazy("Holidays to greet on"), required=False,
                               widget=forms.Textarea(attrs={"rows": 6}),
                               help_text=gettext_lazy("One a line: month/day (Jalali), the Persian name, then | and "
                                                      "the English name. Example: 1/1 نوروز | Nowruz"))

    def clean(self):
        """Numbers typed in Persian digits (a line number, an hour) as the service stores them."""
        data = super().clean()
        for name in ("sms_sender", "sms_service_sender", "quiet_start", "quiet_end"):
            if name in data:
                data[name] = to_ascii_digits(data[name])
        return data


_HOLIDAY = re.compile(r"^(\d{1,2})\s*[/\-]\s*(\d{1,2})\s+([^|]+?)\s*(?:\|\s*(.*?))?\s*$")


def holidays_text(holidays: list[dict]) -> str:
    text = "\n".join(f"{h['month']}/{h['day']} {h['name_fa']}" + (f" | {h['name_en']}" if h.get("name_en") else "")
                     for h in holidays)
    return to_persian_digits(text) if _language() == "fa" else text


def parse_holidays(text: str) -> list[dict]:
    """The textarea's lines as the API's holiday objects; a line that does not read as one goes to the service
    as it is, which refuses it with its line number."""
    found: list[dict] = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        match = _HOLIDAY.match(to_ascii_digits(line))
        found.append({"month": int(match[1]), "day": int(match[2]), "name_fa": match[3], "name_en": match[4] or ""}
                     if match else {"line": line})
    return found


def _settings_initial(current: dict) -> dict:
    return current | {"sms_api_key": "", "quiet_start": current["quiet_hours"]["start"],
                      "quiet_end": current["quiet_hours"]["end"],
                      "enabled_kinds": [k for k in SENT_KINDS if k not in current["disabled_kinds"]],
                      "holidays": holidays_text(current["holidays"])}


def _settings_changes(data: dict, current: dict) -> dict:
    """The fields the operator changed, as the API's PUT body (a PUT may send only those)."""
    wanted = {name: data[name] for name in ("sms_provider", "sms_sender", "sms_service_sender", "price_per_part",
                                           "opt_out_word", "admin_mobile", "email_from", "birthday_on",
                                           "otp_template", "expiry_reminder_days", "email_channel")}
    wanted["quiet_hours"] = {"start": data["quiet_start"], "end": data["quiet_end"]}
    # Kinds the form does not offer (the frame of a message) keep their state.
    wanted["disabled_kinds"] = sorted({k for k in current["disabled_kinds"] if k not in SENT_KINDS}
                                      | {k for k in SENT_KINDS if k not in data["enabled_kinds"]})
    wanted["holidays"] = parse_holidays(data["holidays"])
    changes = {name: value for name, value in wanted.items() if value != current[name]}
    if data["sms_api_key"]:
        changes["sms_api_key"] = data["sms_api_key"]
    elif data["clear_api_key"]:
        changes["sms_api_key"] = ""
    return changes


def _settings_field(field: str) -> tuple[str, str]:
    if field.startswith("holidays."):
        return "holidays", _("line %(n)s") % {"n": num(int(field.split(".")[1]) + 1)}
    return {"quiet_hours": "quiet_start", "disabled_kinds": "enabled_kinds"}.get(field, field), ""


class TestSendForm(StyledForm):
    mobile = forms.CharField(label=gettext_lazy("Send a test SMS to"), widget=forms.TextInput(attrs={"inputmode": "tel"}))
    text = forms.CharField(label=gettext_lazy("Text (empty: a short test text)"), required=False)


@panel_view(Scope.ADMIN, area=AREA)
def settings_page(request):
    b = request.business
    current = selectors.settings_json(selectors.settings_of(b))
    form = SettingsForm(request.POST or None, initial=_settings_initial(current))
    if request.method == "POST" and form.is_valid():
        changes = _settings_changes(form.cleaned_data, current)
        call = _fields_renamed(lambda: services.update_settings(b, **changes), _settings_field)
        if run_service(form, call) is not None:
            messages.success(request, _("Saved."))
            return redirect("panel:messaging_settings")
    return _render(request, "settings", "settings",
                   {"form": form, "test_form": TestSendForm(prefix="test"), "key_last4": current["sms_api_key"],
                    "inbound_url": current["inbound_url"], "provider": current["sms_provider"]},
                   422 if form.errors else 200)


@require_POST
@panel_view(Scope.ADMIN, area=AREA)
def test_send(request):
    """`vafa sms test` from the settings page: one message through the configured channel, at once."""
    form = TestSendForm(request.POST, prefix="test")
    answer = run_service(form, lambda: services.send_test(request.business, form.cleaned_data["mobile"],
                                                          form.cleaned_data["text"])) if form.is_valid() else None
    if answer is None:
        messages.error(request, " ".join([*form.non_field_errors(), *(e for f in form for e in f.errors)]))
    elif answer["error"]:
        messages.error(request, _("The test message failed: %(state)s — %(error)s") % {
            "state": label("message_state", answer["state"]), "error": answer["error"]})
    else:
        messages.success(request, _("The test message was handed to the provider: %(state)s") % {
            "state": label("message_state", answer["state"])})
    return redirect("panel:messaging_settings")


@panel_view(Scope.ADMIN, area=AREA)
def provider_credit(request):
    """The provider's account (credit, expiry), asked for by the settings page after it loaded: a slow provider
    never holds the page up."""
    account = selectors.provider_account(request.business)
    expires = None
    if account and str(account.get("expiredate", "")).isdigit():
        expires = dt.datetime.fromtimestamp(int(account["expiredate"]), tz=dt.UTC)
    return render(request, "panel/messaging/credit.html", {"account": account, "expires": expires})


# --- templates --------------------------------------------------------------------------------------------------

@panel_view(Scope.ADMIN, area=AREA)
def template_list(request):
    disabled = set(selectors.settings_of(request.business).disabled_kinds)
    kinds: dict[str, dict] = {}
    for row in selectors.templates_json(request.business):
        entry = kinds.setdefault(row["kind"], {"kind": row["kind"], "class": row["class"], "customised": False,
                                               "off": row["kind"] in disabled})
        entry[row["language"]] = row["text"]
        entry["customised"] |= row["customised"]
    return _render(request, "templates", "templates", {"kinds": list(kinds.values())})


class TemplateForm(forms.Form):
    text_fa = forms.CharField(label=gettext_lazy("Persian text"), required=False,
                              widget=forms.Textarea(attrs={"rows": 5, "dir": "rtl"}))
    text_en = forms.CharField(label=gettext_lazy("English text"), required=False,
                              widget=forms.Textarea(attrs={"rows": 5, "dir": "ltr"}))


@panel_view(Scope.ADMIN, area=AREA)
def template_edit(request, kind: str):
    if kind not in templates.KINDS:
        raise Http404
    b = request.business
    current = {language: selectors.template_text(b, kind, language) for language in ("fa", "en")}
    form = TemplateForm(request.POST or None, initial={f"text_{lang}": text for lang, text in current.items()})
    if request.method == "POST" and form.is_valid():
        # Only the languages changed: saving an untouched default would make it a business's own text.
        items = [{"kind": kind, "language": lang, "text": form.cleaned_data[f"text_{lang}"]}
                 for lang in ("fa", "en") if form.cleaned_data[f"text_{lang}"] != current[lang]]
        call = _fields_renamed(lambda: services.save_templates(b, items) or True,
                               lambda field: (f"text_{items[int(field.split('.')[0])]['language']}", ""))
        if run_service(form, call) is not None:
            messages.success(request, _("Saved."))
            return redirect("panel:messaging_templates")
    return _render(request, "template_edit", "templates",
                   {"form": form, "kind": kind, "variables": templates.VARIABLES,
                    "defaults": templates.DEFAULTS[kind]}, 422 if form.errors else 200)


@panel_view(Scope.READ)
def preview(request):
    """A text rendered as the member would read it (POST /messaging/templates/preview): sample values, or a member
    found by code or mobile; with its characters, SMS parts and cost. Unknown variables are named."""
    b = request.business
    lang = request.GET.get("lang", "fa")
    text = request.GET.get(f"text_{lang}", request.GET.get("text", ""))[:1000]
    unknown = templates.unknown_variables(text)
    context: dict = {"unknown": unknown, "currency": b.currency, "lang": lang}
    if not unknown:
        member = _sample_member(b, request.GET.get("member", ""))
        context["preview"] = selectors.preview(b, kind=None, text=text, member=member)
        context["member"] = member
    return render(request, "panel/messaging/preview.html", context)


def _sample_member(business, wanted: str) -> Member | None:
    wanted = to_ascii_digits(wanted).strip()
    if not wanted:
        return None
    try:
        return find_member(business, phone=wanted) if wanted.lstrip("+").isdigit() and len(wanted) > 6 \
            else find_member(business, code=wanted.upper())
    except (NotFound, InvalidInput):
        return None


# --- broadcasts (the SMS panel) -----------------------------------------------------------------------------------

def delivery_summary(row: Broadcast) -> str:
    counts = selectors.broadcast_counts(row)
    return " · ".join(f"{label('message_state', state)} {num(n)}" for state, n in counts.items() if n) or "—"


class BroadcastTable(Table):
    template = "panel/messaging/broadcasts.html"
    export_name = "broadcasts"
    sheet_title = gettext_lazy("Broadcasts")
    default_sort = "-send_at"
    searchable = False

    def __init__(self, request) -> None:
        super().__init__(request)
        self.columns = [
            Column("send_at", gettext_lazy("Send at"), sort="send_at", kind="datetime"),
            Column("text", gettext_lazy("Text"), get=lambda r: (r.text or label("message_kind", r.template_kind))[:80]),
            Column("promotional", gettext_lazy("Class"), kind="label:message_class",
                   get=lambda r: "promotional" if r.promotional else "informational"),
            Column("recipients", gettext_lazy("Recipients"), sort="recipients", kind="num"),
            Column("state", gettext_lazy("State"), sort="state", kind="label:broadcast_state"),
            Column("delivery", gettext_lazy("Delivery"), get=delivery_summary),
            Column("created_by", gettext_lazy("By")),
        ]

    def base_queryset(self):
        return Broadcast.objects.filter(business=self.business)


@panel_view(Scope.READ)
def broadcast_list(request):
    request.principal.require(Scope.READ, whole_business=True)  # every broadcast of the business: not a cashier's
    tabs = _tabs(request)
    return BroadcastTable(request).respond({"tabs": tabs, "tab": "messaging", "can_send": len(tabs) > 1})


class BroadcastForm(StyledForm):
    text = forms.CharField(label=gettext_lazy("Text (variables such as {first_name} work here)"), required=False,
                           widget=forms.Textarea(attrs={"rows": 4}))
    template = forms.ChoiceField(label=gettext_lazy("Or a template"), required=False)
    promotional = forms.BooleanField(label=gettext_lazy("Promotional (advertising line, opt-out line, quiet hours, "
                                                        "not to members who opted out)"), required=False,
                                     initial=True)
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)
    branch = forms.ChoiceField(label=gettext_lazy("Branch of the last purchase"), required=False)
    join_source = forms.ChoiceField(label=gettext_lazy("Source"), required=False)
    birth_month = forms.ChoiceField(label=gettext_lazy("Birth month"), required=False)
    last_purchase_after = forms.CharField(label=gettext_lazy("Last purchase on or after"), required=False,
                                          widget=forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"}))
    last_purchase_before = forms.CharField(label=gettext_lazy("Last purchase before"), required=False,
                                           widget=forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"}))
    spend_min = AmountField(label=gettext_lazy("Total spend at least"), required=False)
    spend_max = AmountField(label=gettext_lazy("Total spend at most"), required=False)
    points_min = AmountField(label=gettext_lazy("Points at least"), required=False)
    points_max = AmountField(label=gettext_lazy("Points at most"), required=False)
    has_email = forms.ChoiceField(label=gettext_lazy("Email"), required=False,
                                  choices=[("", gettext_lazy("Any")), ("1", gettext_lazy("Has an email")),
                                           ("0", gettext_lazy("Has no email"))])
    send_date = forms.CharField(label=gettext_lazy("Send on (empty: now)"), required=False,
                                widget=forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"}))
    send_time = forms.CharField(label=gettext_lazy("at"), required=False, widget=TIME_INPUT)

    AUDIENCE = ("tier", "branch", "join_source", "birth_month", "last_purchase_after", "last_purchase_before",
                "spend_min", "spend_max", "points_min", "points_max", "has_email")

    def __init__(self, business, language: str, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        every = [("", _("Every member"))]
        names = tier_names(business, language)
        members = Member.objects.filter(business=business)
        self.fields["template"].choices = [("", _("— free text —"))] + [
            (k, label("message_kind", k)) for k in ("promotion", *templates.INFORMATIONAL_KINDS)]
        self.fields["tier"].choices = every + [(t, names.get(t, t)) for t in sorted(
            members.exclude(tier="").values_list("tier", flat=True).distinct())]
        self.fields["branch"].choices = every + [(br.code, br.name) for br in
                                                 Branch.objects.filter(business=business).order_by("name")]
        self.fields["join_source"].choices = every + [(s, s) for s in members.exclude(join_source="").values_list(
            "join_source", flat=True).distinct().order_by("join_source")]
        months = JALALI_MONTHS if business.calendar == "jalali" and language == "fa" else [str(i) for i in range(1, 13)]
        self.fields["birth_month"].choices = every + [(str(i + 1), name) for i, name in enumerate(months)]

    def audience(self) -> dict:
        data = self.cleaned_data
        chosen = {name: data[name] for name in self.AUDIENCE if data.get(name) not in (None, "")}
        if "birth_month" in chosen:
            chosen["birth_month"] = int(chosen["birth_month"])
        if "has_email" in chosen:
            chosen["has_email"] = chosen["has_email"] == "1"
        return chosen

    def send_at(self, business) -> dt.datetime | None:
        """The moment typed (a Jalali or ISO day and hh:mm, business time); None: now."""
        day, hour = self.cleaned_data["send_date"].strip(), to_ascii_digits(self.cleaned_data["send_time"].strip())
        if not day:
            return None
        if hour and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", hour):
            raise InvalidInput("send_time", "not_a_time")
        moment = dt.time.fromisoformat(hour.zfill(5)) if hour else dt.time(10, 0)
        return dt.datetime.combine(parse_date(day, "send_date"), moment, tzinfo=ZoneInfo(business.timezone))


@panel_view(Scope.ADMIN, area=AREA)
def broadcast_new(request):
    """Compose: `estimate` is the API's dry run (recipients, parts, cost, a sample); `send` creates it."""
    b = request.business
    form = BroadcastForm(b, request.LANGUAGE_CODE, request.POST or None)
    estimate = None
    if request.method == "POST" and form.is_valid():
        sending = request.POST.get("action") == "send"

        def call() -> dict:
            problems: list[dict] = []
            try:
                send_at = form.send_at(b)
            except InvalidInput as exc:  # told with the service's own errors, all at once
                send_at, problems = None, exc.errors
            try:
                answer = broadcasts.create_broadcast(
                    b, audience=form.audience(), text=form.cleaned_data["text"],
                    template=form.cleaned_data["template"], promotional=form.cleaned_data["promotional"],
                    send_at=send_at, dry_run=not sending or bool(problems), created_by=request.principal.actor.label)
            except InvalidInput as exc:
                raise InvalidInput(errors=problems + exc.errors) from None
            if problems:
                raise InvalidInput(errors=problems)
            return answer

        answer = run_service(form, _fields_renamed(call, lambda field: (field.removeprefix("audience."), "")))
        if answer is not None and sending:
            messages.success(request, _("Broadcast scheduled for %(n)s members.") % {"n": num(answer["recipients"])})
            return redirect("panel:messaging")
        estimate = answer
    return _render(request, "broadcast_new", "messaging", {"form": form, "estimate": estimate,
                                                           "currency": b.currency}, 422 if form.errors else 200)


# --- a member's messages ----------------------------------------------------------------------------------------

@panel_view(Scope.READ)
def member_messages(request, member_id: int):
    """The member page's "messages sent" (GET /messaging/messages?member_id=), loaded into it by HTMX."""
    member = member_by_id(request.business, member_id)
    rows = (selectors.messages(request.business, member_id=member.pk).exclude(state=Message.State.COMPOSING)
            .order_by("-created_at", "-id")[:30])
    return render(request, "panel/messaging/member_messages.html", {"member": member, "rows": rows})
