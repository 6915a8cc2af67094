import pytest
from tests.messaging.fake_kavenegar import API_KEY, FakeKavenegar


@pytest.fixture(autouse=True)
def _own_messages_file(settings, tmp_path):
    """Each test reads only the messages it sent (<data-dir>/messages.jsonl)."""
    settings.DATA_DIR = tmp_path


@pytest.fixture
def fake_kavenegar(monkeypatch):
    with FakeKavenegar() as fake:
        monkeypatch.setenv("VAFA_KAVENEGAR_URL", fake.url)
        yield fake


@pytest.fixture
def kavenegar_business(business, fake_kavenegar):
    from vafa.messaging.services import update_settings

    update_settings(business, sms_provider="kavenegar", sms_api_key=API_KEY, sms_sender="2000660110",
                    sms_service_sender="10004346", price_per_part=1200)
    return business


@pytest.fixture
def file_business(business):
    from vafa.messaging.services import update_settings

    update_settings(business, sms_provider="file", price_per_part=1000)
    return business


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server (aiosmtpd) on a free loopback port, with Django's SMTP backend pointed at it; yields
    the list of messages it received."""
    import socket

    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message as MessageHandler

    received: list = []

    class Keep(MessageHandler):
        def handle_message(self, message):
            received.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        yield received
    finally:
        controller.stop()


def parsed_mail(raw):
    import email
    import email.policy

    return email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)


def sent_lines(kind: str | None = None):
    import json

    from vafa.messaging.channels.file import messages_path

    path = messages_path()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    return [line for line in lines if kind is None or line["kind"] == kind]
