"""The member portal (F56) at /m/<business>/: a member signs in with a one-time code and reads and acts on
their own club account. Every write calls the same service the API and the back office call; these views
only turn forms into calls and answers into pages."""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vafa.catalogue import selectors as catalogue_selectors
from vafa.catalogue.services import request_gift
from vafa.core.actor import Actor, visitor
from vafa.core.calendar import format_date
from vafa.core.errors import VafaError
from vafa.core.messages import message
from vafa.members.balances import convert_points_to_wallet
from vafa.members.models import Member
from vafa.members.services import MemberUpdate, MobileVerification, sign_up, update_member, verify_mobile
from vafa.messaging.events import queue_welcome
from vafa.messaging.models import OptOut
from vafa.messaging.otp import request_code, verify_code
from vafa.messaging.services import opt_in, opt_out
from vafa.panel.forms import run_service
from vafa.panel.models import BusinessLogo
from vafa.portal import selectors
from vafa.portal.forms import ClaimForm, CodeForm, ConvertForm, JoinForm, MobileForm, ProfileForm
from vafa.portal.models import PurchaseClaim
from vafa.portal.services import MAX_PHOTO_BYTES, claim_purchase
from vafa.portal.session import business_of, member_view, session_key, sign_in, sign_out

PENDING = "portal_pending"  # the mobile a code was sent to, and the referral code, before the code is checked
VERIFIED = "portal_verified"  # a mobile proven by its code that is no member yet: the join step


def problem_text(exc: VafaError, language: str) -> str:
    """An error for a page without a form field to put it beside: its first field's message, or its own."""
    errors = getattr(exc, "errors", None)
    return message(errors[0]["message"] if errors else exc.detail, language)


def _url(name: str, business) -> str:
    return reverse(f"portal:{name}", args=[business.slug])


def _actor(member: Member, request) -> Actor:
    return Actor("member", str(member.pk), member.code, request.META.get("REMOTE_ADDR"))


def _page(request, business, template: str, context: dict, status: int = 200):
    return render(request, f"portal/{template}", {"business": business, **context}, status=status)


def sign_in_page(request, slug: str):
    """Two steps on one page: the mobile (a code is sent; the answer is the same for any mobile), then the
    code. A proven mobile of a member signs in; a proven new mobile goes on to join the club."""
    business = business_of(request, slug)
    pending_key, verified_key = f"{PENDING}:{business.pk}", f"{VERIFIED}:{business.pk}"
    mobile_form = MobileForm(initial={"ref": request.GET.get("ref", "")})
    code_form = None
    pending = request.session.get(pending_key)
    if request.method == "POST" and request.POST.get("step") == "code" and pending:
        code_form = CodeForm(request.POST)
        if code_form.is_valid():
            mobile = run_service(code_form, lambda: verify_code(business, pending["mobile"], "login",
                                                                code_form.cleaned_data["code"]))
            if mobile:
                del request.session[pending_key]
                member = Member.objects.filter(business=business, mobile=mobile).first()
                if member is None:
                    request.session[verified_key] = {"mobile": mobile, "ref": pending.get("ref", "")}
                    return redirect(_url("join", business))
                if member.status == Member.Status.BLOCKED:
                    code_form.add_error(None, message("member_blocked", business.language))
                else:
                    if not member.mobile_verified:
                        verify_mobile(business, MobileVerification(mobile), actor=_actor(member, request))
                    sign_in(request, member)
                    return redirect(_url("home", business))
    elif request.method == "POST":
        mobile_form = MobileForm(request.POST)
        if mobile_form.is_valid():
            sent = run_service(mobile_form, lambda: request_code(business, mobile_form.cleaned_data["mobile"],
                                                                 "login", request.META.get("REMOTE_ADDR", "")))
            if sent:
                pending = {"mobile": sent["mobile"], "ref": mobile_form.cleaned_data["ref"]}
                request.session[pending_key] = pending
                code_form = CodeForm()
    elif request.GET.get("again") is None and pending:
        code_form = CodeForm()
    if request.GET.get("again") is not None:
        request.session.pop(pending_key, None)
    return _page(request, business, "sign_in.html", {"mobile_form": mobile_form, "code_form": code_form,
                                                      "pending": pending if code_form else None})


def join(request, slug: str):
    """A proven new mobile joins the club here (the open club; a closed one admits it as a candidate)."""
    business = business_of(request, slug)
    verified_key = f"{VERIFIED}:{business.pk}"
    verified = request.session.get(verified_key)
    if not verified:
        return redirect(_url("sign_in", business))
    form = JoinForm(request.POST or None, initial={"ref": verified.get("ref", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = run_service(form, lambda: sign_up(
            business, mobile=verified["mobile"], first_name=data["first_name"], last_name=data["last_name"],
            referral_code=(data["ref"] or "").strip().upper() or None, mobile_verified=False,
            join_source="portal" if not data["ref"] else "referral", actor=visitor(request.META.get("REMOTE_ADDR"))))
        if created is not None:
            member = verify_mobile(business, MobileVerification(verified["mobile"]),
                                   actor=visitor(request.META.get("REMOTE_ADDR"))).member or created

            queue_welcome(member)
            del request.session[verified_key]
            sign_in(request, member)
            return redirect(_url("home", business))
    return _page(request, business, "join.html", {"form": form, "mobile": verified["mobile"]})


@require_POST
def sign_out_view(request, slug: str):
    business = business_of(request, slug)
    sign_out(request, business)
    return redirect(_url("sign_in", business))


@member_view
def home(request, business, member):
    return _page(request, business, "home.html", {"member": member, "nav": "home", **selectors.home(member)})


@member_view
def history(request, business, member):
    return _page(request, business, "history.html", {"member": member, "nav": "history",
                                                     **selectors.history(member)})


@member_view
def points(request, business, member):
    """The loyalty table and converting points to wallet credit."""
    form = ConvertForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = run_service(form, lambda: convert_points_to_wallet(
            business, member.pk, form.cleaned_data["points"], actor=_actor(member, request)))
        if done:
            messages.success(request, _("Points converted to wallet credit."))
            return redirect(_url("points", business))
    return _page(request, business, "points.html", {
        "member": member, "nav": "points", "form": form, "balances": selectors.home(member)["balances"],
        **selectors.loyalty_table(business)}, status=400 if form.errors else 200)


@member_view
def gifts(request, business, member):
    error = ""
    if request.method == "POST":
        try:
            gift_id = int(request.POST.get("gift", ""))
            request_gift(business, member.pk, gift_id, actor=_actor(member, request))
        except ValueError:
            error = message("not_found", business.language)
        except VafaError as exc:
            error = problem_text(exc, business.language)
        else:
            messages.success(request, _("Gift requested. We will let you know when it is ready."))
            return redirect(_url("gifts", business))
    return _page(request, business, "gifts.html", {
        "member": member, "nav": "gifts", "error": error, "rows": selectors.affordable_gifts(member),
        "balances": selectors.home(member)["balances"],
        "requests": catalogue_selectors.requests(business, member_id=member.pk)[:20]},
        status=400 if error else 200)


@member_view
def offers(request, business, member):
    return _page(request, business, "offers.html", {"member": member, "nav": "home", **selectors.offers(member)})


@member_view
def invite(request, business, member):
    return _page(request, business, "invite.html", {"member": member, "nav": "invite",
                                                    **selectors.referral(member)})


def _date_text(value, business) -> str:
    return format_date(value, business.calendar, "en") if value else ""


@member_view
def profile(request, business, member):
    opted_out = OptOut.objects.filter(business=business, member=member).exists()
    initial = {"first_name": member.first_name, "last_name": member.last_name, "email": member.email,
               "birth_date": _date_text(member.birth_date, business),
               "anniversary": _date_text(member.anniversary, business),
               "interests": "، ".join(member.interests or []), "marketing": not opted_out}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        marketing = data.pop("marketing")
        data["interests"] = [part.strip() for part in data["interests"].replace("،", ",").split(",") if part.strip()]
        changes = {k: v for k, v in data.items() if k in form.changed_data}
        if run_service(form, lambda: update_member(business, MemberUpdate.check(business, member.pk, **changes),
                                                   actor=_actor(member, request))):
            if marketing and opted_out:
                opt_in(business, member)
            elif not marketing and not opted_out:
                opt_out(business, member, how="portal")
            messages.success(request, _("Profile saved."))
            return redirect(_url("profile", business))
    return _page(request, business, "profile.html", {"member": member, "nav": "profile", "form": form,
                                                     "branches": selectors.branches(business)},
                 status=400 if form.errors else 200)


@member_view
def receipts(request, business, member):
    """Register my purchase (F10): accepted at once when the store's receipt agrees, else reviewed."""
    branches = selectors.branches(business)
    form = ClaimForm(request.POST or None, request.FILES or None, branches=branches)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["photo"]
        if upload is not None and upload.size > MAX_PHOTO_BYTES:
            form.add_error("photo", message("photo_too_large", business.language))
        else:
            photo = upload.read() if upload is not None else None
            claim = run_service(form, lambda: claim_purchase(
                business, member.pk, branch_code=data["branch"], receipt=data["receipt"], amount=data["amount"],
                purchased_on=data["purchased_on"], photo=photo, actor=_actor(member, request)))
            if claim is not None:
                if claim.status == PurchaseClaim.Status.ACCEPTED:
                    messages.success(request, _("Your purchase is registered and earned."))
                else:
                    messages.info(request, _("Thank you. Your purchase will be checked and you will see the result "
                                             "here."))
                return redirect(_url("receipts", business))
    claims = (PurchaseClaim.objects.filter(business=business, member=member).select_related("branch")
              .order_by("-created_at", "-id")[:30])
    return _page(request, business, "receipts.html", {"member": member, "nav": "receipts", "form": form,
                                                      "claims": claims}, status=400 if form.errors else 200)


def contact(request, slug: str):
    """The branches with their addresses and a map link, and how to reach the business: open to anyone, so a
    visitor who is not signed in finds the shop too."""
    business = business_of(request, slug)
    member = (Member.objects.filter(business=business, pk=request.session.get(session_key(business)) or 0)
              .exclude(status=Member.Status.BLOCKED).first())
    return _page(request, business, "contact.html", {"member": member, "nav": "home",
                                                     **selectors.contact(business)})


def manifest(request, slug: str):
    business = business_of(request, slug)
    base = _url("home", business)
    icons = [{"src": static("portal/icon-192.png"), "sizes": "192x192", "type": "image/png"},
             {"src": static("portal/icon-512.png"), "sizes": "512x512", "type": "image/png"}]
    if BusinessLogo.objects.filter(business=business).exists():
        icons.append({"src": _url("logo", business), "sizes": "any", "purpose": "any"})
    return JsonResponse({
        "name": business.name, "short_name": business.name[:12], "lang": business.language,
        "dir": "rtl" if business.language == "fa" else "ltr", "start_url": base, "scope": base,
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#0d6efd",
        "icons": icons,
    }, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False})


def logo(request, slug: str):
    """The logo the back office stored (a checked raster image), for the installed app and the header."""
    business = business_of(request, slug)
    stored = BusinessLogo.objects.filter(business=business).first()
    if stored is None:
        raise Http404
    response = HttpResponse(bytes(stored.data), content_type=stored.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


SERVICE_WORKER = Path(__file__).parent / "static" / "portal" / "sw.js"


def service_worker(request, slug: str):
    """The service worker is a static file, served from under /m/<slug>/ so that its scope is the portal."""
    business_of(request, slug)
    response = HttpResponse(SERVICE_WORKER.read_text(), content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response
