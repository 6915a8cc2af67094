"""A 500 leaves its traceback in the production log (the console), not only in mail nobody set up (issue 10)."""

import io
import logging

from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path


def broken(request):
    raise ZeroDivisionError("the bug")


def fine(request):
    return HttpResponse("ok")


urlpatterns = [path("broken/", broken), path("fine/", fine)]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_is_logged_to_the_console_with_its_traceback(db):
    [handler] = logging.getLogger("django.request").handlers
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        client = Client(raise_request_exception=False)
        assert client.get("/fine/").status_code == 200
        assert client.get("/missing/").status_code == 404
        assert stream.getvalue() == ""  # only errors
        assert client.get("/broken/").status_code == 500
    finally:
        handler.setStream(previous)
    logged = stream.getvalue()
    assert "ERROR django.request: Internal Server Error: /broken/" in logged
    assert "Traceback" in logged and "ZeroDivisionError: the bug" in logged
