"""The public sign-up page a referral link or QR code opens (F3): /join/<business>/?ref=CODE&source=…"""

from django import forms
from django.http import Http404
from django.shortcuts import render

from vafa.core.errors import Conflict, InvalidInput
from vafa.core.messages import message
from vafa.members.services import sign_up
from vafa.tenancy.models import Business


class JoinForm(forms.Form):
    mobile = forms.CharField(max_length=32, label="شماره موبایل")
    first_name = forms.CharField(max_length=100, required=False, label="نام")
    last_name = forms.CharField(max_length=100, required=False, label="نام خانوادگی")
    ref = forms.CharField(max_length=32, required=False, widget=forms.HiddenInput)
    source = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)


def join(request, slug: str):
    business = Business.objects.filter(slug=slug).first()
    if business is None:
        raise Http404
    initial = {"ref": request.GET.get("ref", ""), "source": request.GET.get("source", "")}
    form = JoinForm(request.POST or None, initial=initial)
    joined = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            joined = sign_up(business, mobile=data["mobile"], first_name=data["first_name"],
                             last_name=data["last_name"], referral_code=data["ref"] or None,
                             join_source=data["source"] or ("referral" if data["ref"] else "link"))
        except InvalidInput as exc:
            for error in exc.errors:
                field = error["field"] if error["field"] in form.fields else None
                form.add_error(field if field != "ref" else None, message(error["message"], business.language))
        except Conflict as exc:
            form.add_error("mobile", message(exc.detail, business.language))
    return render(request, "members/join.html", {"business": business, "form": form, "joined": joined})
