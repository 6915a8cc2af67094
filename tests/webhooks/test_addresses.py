"""Webhooks reach public addresses only (issue 10, SSRF): refused when saved and at every connection, whatever
form the address takes, a name that resolves to loopback included; a receiver's answer body is never kept."""

import ipaddress
import socket

import pytest
from django.test import Client

from vafa.access.services import create_api_key
from vafa.core.errors import InvalidInput
from vafa.members.services import sign_up
from vafa.outbox.services import deliver_due
from vafa.webhooks import addresses
from vafa.webhooks.models import WebhookDelivery, WebhookEndpoint
from vafa.webhooks.services import create_endpoint, deliver_webhooks, update_endpoint

from .test_services import _clean_environment, closed_port_url, receiver  # noqa: F401 - a fixture

INTERNAL = ["127.0.0.1", "169.254.169.254", "metadata.google.internal", "10.0.0.1", "0x7f000001", "2130706433",
            "127.1", "0", "[::1]", "localhost", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "192.168.1.10",
            "172.16.0.1", "100.64.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "[fe80::1]", "[fc00::1]",
            "[ff02::1]", "[::]", "0177.0.0.1", "printer.local", "db.internal", "app.localhost", "[2002:7f00:1::]"]


@pytest.fixture
def api(business):
    _, key = create_api_key(business, scope="admin")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT_LANGUAGE="en")


def test_the_setting_is_off_by_default():
    from vafa import settings

    assert settings.WEBHOOKS_ALLOW_PRIVATE is False


@pytest.mark.parametrize("host", INTERNAL)
def test_an_internal_address_is_refused_when_saved(business, host):
    with pytest.raises(InvalidInput) as refused:
        create_endpoint(business, url=f"http://{host}:8080/hook", events=["*"])
    assert refused.value.errors == [{"field": "url", "message": "address_not_allowed"}]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "169.254.169.254", "metadata.google.internal", "2130706433",
                                  "[::1]", "localhost"])
def test_the_api_answers_422_with_a_clear_message_in_both_languages(api, business, host):
    body = {"url": f"https://{host}/hook", "events": ["*"]}
    response = api.post("/api/v1/webhooks", body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("url", "address_not_allowed")
    assert "private" in error["message"] and "public" in error["message"]
    persian = api.post("/api/v1/webhooks", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="fa")
    assert "نشانی عمومی" in persian.json()["errors"][0]["message"]
    assert not WebhookEndpoint.objects.exists()


def test_changing_an_endpoint_to_an_internal_address_is_refused(business):
    endpoint = create_endpoint(business, url="https://shop.example/hook", events=["*"])
    with pytest.raises(InvalidInput):
        update_endpoint(business, endpoint.pk, url="http://169.254.169.254/latest/meta-data/")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://shop.example/hook"


def test_a_public_address_and_a_name_that_does_not_resolve_yet_are_accepted(business):
    assert create_endpoint(business, url="https://93.184.215.14/hook", events=["*"]).pk
    assert create_endpoint(business, url="https://shop.example/hook", events=["*"]).pk  # .example: no DNS


def test_the_setting_allows_private_addresses(business, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert create_endpoint(business, url="http://127.0.0.1:8080/hook", events=["*"]).pk


def _deliver_one(business) -> WebhookDelivery:
    sign_up(business, mobile="09125550100")
    deliver_due()
    assert deliver_webhooks() == 0
    return WebhookDelivery.objects.get()


def test_an_endpoint_saved_before_the_check_is_refused_at_connection(business):
    with receiver() as rec:
        # a row written before this release (or by hand): the connection itself must refuse it
        WebhookEndpoint.objects.create(business=business, url=rec.url, events=["*"], secret="whsec_x")
        delivery = _deliver_one(business)
    assert rec.requests == []
    assert delivery.attempt_log.get().error == "address not allowed"
    assert delivery.last_error == "address not allowed" and delivery.last_status_code is None


def test_dns_rebinding_is_refused_at_connection(business, monkeypatch):
    """The name resolves to a public address when saved and to loopback (where a receiver listens) when sent."""
    real = socket.getaddrinfo
    answer = {"ip": "93.184.215.14"}

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            return real(answer["ip"], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(addresses.socket, "getaddrinfo", rebinding)
    with receiver() as rec:
        port = rec.url.split(":")[2].split("/")[0]
        create_endpoint(business, url=f"http://rebind.example:{port}/hook", events=["*"])
        answer["ip"] = "127.0.0.1"
        delivery = _deliver_one(business)
    assert rec.requests == []
    assert delivery.attempt_log.get().error == "address not allowed"


def test_a_receivers_answer_body_is_never_stored_or_returned(business, api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with receiver(statuses=[500]) as rec:  # answers 500 with the body "nope"
        endpoint = create_endpoint(business, url=rec.url, events=["member.created"])
        delivery = _deliver_one(business)
    assert len(rec.requests) == 1
    assert delivery.last_error == "HTTP 500" and delivery.attempt_log.get().error == "HTTP 500"
    listed = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries")
    assert listed.status_code == 200 and b"nope" not in listed.content
    assert listed.json()["items"][0]["attempts"][0]["error"] == "HTTP 500"


def test_a_closed_port_is_an_error_class_not_the_systems_text(business, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    create_endpoint(business, url=closed_port_url(), events=["*"])
    assert _deliver_one(business).last_error == "connection refused"


@pytest.mark.parametrize("text, public", [
    ("93.184.215.14", True), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True), ("8.8.8.8", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("169.254.169.254", False), ("100.64.0.1", False),
    ("0.0.0.0", False), ("224.0.0.251", False), ("::1", False), ("::ffff:8.8.8.8", False),
    ("fe80::1", False), ("fd00::1", False), ("2002:0808:0808::1", False), ("2001:0:4136:e378::1", False),
    ("64:ff9b::7f00:1", False),
])
def test_is_public(text, public):
    assert addresses.is_public(ipaddress.ip_address(text)) is public


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """An HTTPS receiver on loopback whose certificate names only `localhost`, trusted through SSL_CERT_FILE:
    a connection that verified the address it dialled (127.0.0.1) instead of the URL's host would fail."""
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"host": self.headers["Host"], "sni": getattr(self.connection, "sni", None)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_sni(sock, name, _context):
        sock.sni = name

    context.sni_callback = remember_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def test_https_keeps_the_urls_host_name_for_sni_and_the_certificate(business, settings, tls_receiver):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    port, seen = tls_receiver
    create_endpoint(business, url=f"https://localhost:{port}/hook", events=["member.created"])
    sign_up(business, mobile="09125550101")
    deliver_due()
    assert deliver_webhooks() == 1, WebhookDelivery.objects.get().last_error
    assert seen == [{"host": f"localhost:{port}", "sni": "localhost"}]


def test_https_to_an_address_the_certificate_does_not_name_is_a_tls_error(business, settings, tls_receiver):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    port, seen = tls_receiver
    create_endpoint(business, url=f"https://127.0.0.1:{port}/hook", events=["member.created"])
    assert _deliver_one(business).last_error == "TLS error"
    assert seen == []


def test_the_migration_forgets_stored_bodies_and_error_texts(business):
    import importlib

    from django.apps import apps

    from vafa.webhooks.models import WebhookAttempt

    migration = importlib.import_module("vafa.webhooks.migrations.0002_forget_receiver_bodies")
    endpoint = create_endpoint(business, url="https://shop.example/hook", events=["*"])
    delivery = WebhookDelivery.objects.create(business=business, endpoint=endpoint, event_type="member.created",
                                              last_status_code=None,
                                              last_error="URLError: [Errno 111] Connection refused")
    now = delivery.created_at
    kept = [WebhookAttempt.objects.create(business=business, delivery=delivery, number=n, at=now, status_code=code,
                                          error=error)
            for n, (code, error) in enumerate([(500, "HTTP 500: <html>internal admin page</html>"),
                                               (None, "TimeoutError: timed out"),
                                               (None, "URLError: SSL: CERTIFICATE_VERIFY_FAILED on 10.0.0.5"),
                                               (200, "")], start=1)]
    migration.forget_bodies(apps, None)
    delivery.refresh_from_db()
    assert delivery.last_error == "connection refused"
    assert [WebhookAttempt.objects.get(pk=a.pk).error for a in kept] == [
        "HTTP 500", "timed out", "connection failed", ""]
