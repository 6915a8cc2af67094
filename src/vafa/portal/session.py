"""Member sessions, apart from operator sessions: the signed Django session holds `portal_member_id:<business
id>` (a member of one business is nobody in another), never a Django user. Every portal page resolves the
business from its slug and the member from that key; a blocked or unknown member is signed out."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import Http404, HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation

from vafa.members.models import Member
from vafa.tenancy.models import Business

SESSION_KEY = "portal_member_id"


def session_key(business) -> str:
    return f"{SESSION_KEY}:{business.pk}"


def business_of(request: HttpRequest, slug: str) -> Business:
    business = Business.objects.filter(slug=slug).first()
    if business is None:
        raise Http404
    translation.activate(business.language)
    request.LANGUAGE_CODE = business.language
    request.business = business
    return business


def sign_in(request: HttpRequest, member: Member) -> None:
    request.session.cycle_key()  # a new session id at sign-in: a planted one never becomes a member's
    request.session[session_key(member.business)] = member.pk


def sign_out(request: HttpRequest, business) -> None:
    request.session.pop(session_key(business), None)


def member_view(view: Callable) -> Callable:
    """Decorates a portal page: the business by slug (404 otherwise), its language active, and the signed-in
    member as `request.member`, or a redirect to the sign-in page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, slug: str, *args, **kwargs):
        business = business_of(request, slug)
        member_id = request.session.get(session_key(business))
        member = Member.objects.filter(business=business, pk=member_id).first() if member_id else None
        if member is None or member.status == Member.Status.BLOCKED:
            sign_out(request, business)
            return redirect(reverse("portal:sign_in", args=[slug]))
        request.member = member
        return view(request, business, member, *args, **kwargs)

    return wrapped
