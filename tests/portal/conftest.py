import re

import pytest
from tests.messaging.conftest import sent_lines
from tests.panel.conftest import operator, purchase_at, signed_in  # noqa: F401


@pytest.fixture(autouse=True)
def _own_messages_file(settings, tmp_path):
    """Each test reads only the codes it sent (<data-dir>/messages.jsonl)."""
    settings.DATA_DIR = tmp_path


@pytest.fixture
def file_business(business):
    from vafa.messaging.services import update_settings

    update_settings(business, sms_provider="file", price_per_part=1000)
    return business


def last_code() -> str:
    return re.search(r"\d{5}", sent_lines("otp")[-1]["text"]).group()


@pytest.fixture
def member_client(client, member):
    """A test client signed in to the portal as `member` (the session key a code sign-in writes)."""
    from vafa.portal.session import session_key

    session = client.session
    session[session_key(member.business)] = member.pk
    session.save()
    return client
