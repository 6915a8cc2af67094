"""The public sign-up page a referral link or QR code opens (F3): /join/<business>/?ref=CODE&source=…

Two steps. The first takes the mobile (and name), sends a one-time code to it and, when the mobile is no
member's yet, signs it up unverified; the answer is the same whether or not the mobile was already a member,
and the code's rate limits (per mobile and per client address) throttle sign-ups. The second takes the code:
the mobile is then verified and the sign-up rewards held until now (the member's and its referrer's) are paid
(issue 10: random mobiles posted with ?ref= credit nobody)."""

from django import forms
from django.http import Http404
from django.shortcuts import render

from vafa.core.actor import visitor
from vafa.core.errors import Conflict, InvalidInput, VafaError
from vafa.core.messages import message
from vafa.core.phone import normalize_mobile
from vafa.members.models import Member
from vafa.members.services import MobileVerification, sign_up, verify_mobile
from vafa.messaging.events import queue_welcome
from vafa.messaging.otp import request_code, verify_code
from vafa.tenancy.models import Business


class JoinForm(forms.Form):
    mobile = forms.CharField(max_length=32, label="شماره موبایل")
    first_name = forms.CharField(max_length=100, required=False, label="نام")
    last_name = forms.CharField(max_length=100, required=False, label="نام خانوادگی")
    ref = forms.CharField(max_length=32, required=False, widget=forms.HiddenInput)
    source = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)


class CodeForm(forms.Form):
    mobile = forms.CharField(max_length=32, widget=forms.HiddenInput)
    code = forms.CharField(max_length=8, label="کد تأیید")


def _errors(form, exc: VafaError, language: str) -> None:
    if isinstance(exc, InvalidInput):
        for error in exc.errors:
            field = error["field"] if error["field"] in form.fields and error["field"] != "ref" else None
            form.add_error(field, message(error["message"], language))
    else:
        form.add_error(None, message(exc.detail, language))


def _start(request, business, form: JoinForm):
    """Step 1: answers the code form, or None with the errors on `form`."""
    data = form.cleaned_data
    try:
        mobile = normalize_mobile(data["mobile"], business.phone_region)
        ref = (data["ref"] or "").strip().upper()
        if ref and not Member.objects.filter(business=business, code=ref).exists():
            raise InvalidInput("ref", "unknown_referral_code")
        request_code(business, mobile, "join", request.META.get("REMOTE_ADDR", ""))
    except VafaError as exc:
        _errors(form, exc, business.language)
        return None
    if not Member.objects.filter(business=business, mobile=mobile).exists():
        try:
            sign_up(business, mobile=mobile, first_name=data["first_name"], last_name=data["last_name"],
                    referral_code=ref or None, mobile_verified=False,
                    join_source=data["source"] or ("referral" if ref else "link"),
                    actor=visitor(request.META.get("REMOTE_ADDR")))
        except (InvalidInput, Conflict):
            pass  # a bad name or a concurrent twin: the answer stays the same, the code is on its way
    return CodeForm(initial={"mobile": mobile})


def join(request, slug: str):
    business = Business.objects.filter(slug=slug).first()
    if business is None:
        raise Http404
    initial = {"ref": request.GET.get("ref", ""), "source": request.GET.get("source", "")}
    form = JoinForm(initial=initial)
    code_form = None
    joined = None
    if request.method == "POST" and "code" in request.POST:
        code_form = CodeForm(request.POST)
        if code_form.is_valid():
            try:
                mobile = verify_code(business, code_form.cleaned_data["mobile"], "join", code_form.cleaned_data["code"])
            except VafaError as exc:
                _errors(code_form, exc, business.language)
            else:
                joined = verify_mobile(business, MobileVerification(mobile),
                                       actor=visitor(request.META.get("REMOTE_ADDR"))).member
                if joined is not None:
                    queue_welcome(joined)
    elif request.method == "POST":
        form = JoinForm(request.POST, initial=initial)
        if form.is_valid():
            code_form = _start(request, business, form)
    return render(request, "members/join.html", {"business": business, "form": form, "code_form": code_form,
                                                 "joined": joined})
