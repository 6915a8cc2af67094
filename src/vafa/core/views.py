from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext

from vafa.panel.auth import operator_language


def home(request):
    # No list of businesses: who the platform's customers are is not for anonymous visitors.
    return HttpResponse(
        "<!doctype html><html lang='fa' dir='rtl'><meta charset='utf-8'><title>وفا</title>"
        "<body style='font-family:Vazirmatn,Tahoma,sans-serif;max-width:40rem;margin:3rem auto'>"
        "<h1>وفا — باشگاه مشتریان</h1><p>Vafa loyalty platform</p>"
        "<p><a href='/panel/'>پنل مدیریت باشگاه (back office)</a> · <a href='/admin/'>ادمین سامانه (admin)</a>"
        " · <a href='/api/v1/docs'>API</a></p></body></html>"
    )


def _error_page(status: int, title: str, text: str) -> HttpResponse:
    return HttpResponse(render_to_string("core/error.html", {"title": title, "text": text}, request=None),
                        status=status)


def _in_operator_language(request) -> None:
    """The panel's pages speak the signed-in operator's language; its error pages too (the language middleware
    knows only the browser's)."""
    operator = getattr(getattr(request, "user", None), "operator", None)
    if operator is not None:
        translation.activate(operator_language(operator))


def page_not_found(request, exception=None):
    _in_operator_language(request)
    return _error_page(404, gettext("Not found"), gettext("There is no page at this address."))


def permission_denied(request, exception=None):
    _in_operator_language(request)
    return _error_page(403, gettext("Not allowed"), gettext("You may not open this page."))


def server_error(request):
    # No database read here: the error may be the database's.
    return _error_page(500, gettext("Something went wrong"),
                       gettext("The page could not be shown. Please try again in a minute."))
