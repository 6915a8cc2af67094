"""The panel's one permission gate: a signed-in, active operator becomes the same Principal the API builds
(vafa.access.services.principal_for_operator), and every view states the scope (and owner-only area) it needs,
so a screen can never allow what the API forbids."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.utils import translation

from vafa.access.permissions import Forbidden
from vafa.access.services import principal_for_operator
from vafa.api.auth import client_ip
from vafa.core.errors import NotFound
from vafa.core.messages import message
from vafa.core.usecase import used_a_use_case, write_audit


def operator_language(operator) -> str:
    return operator.language or operator.business.language


def panel_view(scope: str, area: str | None = None, *, whole_business: bool = False,
               post_writes_nothing: bool = False) -> Callable:
    """Decorates a panel view: sign-in required (to /panel/login), the operator's language active, and
    `request.principal`, `request.business`, `request.operator` set. A POST needs write scope at least: an
    analyst's form submission is refused whatever the view asks for, unless the view's POST is a dry run that
    writes nothing (`post_writes_nothing`: simulate, backtest, the till's live preview, read-scope operations in
    the API too). Such a POST writes no audit row either: it changed nothing. A view that also writes on some
    POSTs checks that scope itself and writes through a use case, which audits itself. `whole_business` as in
    Principal.require."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            user = request.user
            operator = getattr(user, "operator", None) if user.is_authenticated else None
            if operator is None or not operator.active:
                return redirect(f"/panel/login?next={request.get_full_path()}")
            translation.activate(operator_language(operator))
            request.LANGUAGE_CODE = translation.get_language()
            principal = principal_for_operator(operator, client_ip(request))
            request.operator, request.business, request.principal = operator, operator.business, principal
            try:
                needs_write = request.method == "POST" and scope == "read" and not post_writes_nothing
                principal.require("write" if needs_write else scope, area, whole_business=whole_business)
                response = view(request, *args, **kwargs)
            except (Forbidden, NotFound) as exc:
                status = 403 if isinstance(exc, Forbidden) else 404
                return render(request, "panel/forbidden.html",
                              {"reason": message(exc.detail, translation.get_language()), "status": status},
                              status=status)
            if (request.method == "POST" and response.status_code < 400 and not post_writes_nothing
                    and not used_a_use_case()):
                # A screen's change that is not yet a use case of its own: the same audit row a use case writes
                # (a use case the view ran wrote its own, or failed and wrote none).
                write_audit(principal.business_id, principal.actor, operation="panel.post", object_type="panel",
                            status=response.status_code)
            return response

        return wrapped

    return decorate


def may(request, scope: str, area: str | None = None, **kwargs) -> bool:
    """Whether the signed-in operator may do what needs this scope (to show a form or a button only then)."""
    try:
        request.principal.require(scope, area, **kwargs)
    except Forbidden:
        return False
    return True
