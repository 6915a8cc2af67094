"""Concurrent sign-ups (PostgreSQL: real concurrent connections)."""

import threading
from collections import Counter

import pytest
from django.db import connection

from conftest import postgres_only
from vafa.core.errors import Conflict
from vafa.members.models import Member
from vafa.members.services import sign_up

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def test_the_same_mobile_signed_up_ten_times_at_once(business):
    barrier = threading.Barrier(10)
    outcomes: list = [None] * 10

    def worker(i):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = ("ok", sign_up(business, mobile="09121234567").pk)
        except Conflict as exc:
            outcomes[i] = ("conflict", exc.detail)
        except Exception as exc:  # every outcome is inspected below
            outcomes[i] = ("error", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert Counter(kind for kind, _ in outcomes) == {"ok": 1, "conflict": 9}, outcomes
    assert {value for kind, value in outcomes if kind == "conflict"} == {"mobile_taken"}
    assert Member.objects.filter(business=business, mobile="+989121234567").count() == 1
