"""Login throttling per (username, address) pair with growing delays (issue 10, Medium 3): a guesser slows
down their own pair only; the owner is never locked out, neither from elsewhere nor once the wait has passed."""

import datetime as dt

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory
from django.utils import timezone

from vafa.access.models import LoginAttempt
from vafa.access.services import create_operator, login_wait

PASSWORD = "correct-horse-battery-9"


class Clock:
    def __init__(self):
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def owner(business):
    return create_operator(business, username="owner", password=PASSWORD, role="owner")


def login(username, password, ip="10.0.0.66"):
    request = RequestFactory().post("/login/", REMOTE_ADDR=ip)
    return authenticate(request, username=username, password=password), request


def fail(times, username="owner", ip="10.0.0.66"):
    for _ in range(times):
        assert login(username, "wrong", ip)[0] is None


def test_five_failures_are_free_then_the_wait_doubles(owner, clock):
    fail(4)
    assert login_wait("owner", "10.0.0.66") == 0
    fail(1)
    waits = [login_wait("owner", "10.0.0.66")]
    for _ in range(4):
        clock.advance(waits[-1])
        fail(1)
        waits.append(login_wait("owner", "10.0.0.66"))
    assert waits == [4, 8, 16, 32, 64]


def test_the_wait_is_capped_at_an_hour_and_forgotten_after_a_day(owner, clock):
    for _ in range(16):
        clock.advance(login_wait("owner", "10.0.0.66"))
        fail(1)
    assert login_wait("owner", "10.0.0.66") == 3600
    clock.advance(24 * 3600 + 1)
    assert login_wait("owner", "10.0.0.66") == 0


def test_while_waiting_even_the_right_password_is_refused_with_the_time_left(owner, clock):
    fail(5)
    clock.advance(1)
    user, request = login("owner", PASSWORD)
    assert user is None and request.login_retry_after == 3
    assert LoginAttempt.objects.filter(success=False).count() == 5  # the refused try is not counted
    clock.advance(3)
    assert login("owner", PASSWORD)[0] is not None  # the wait has passed: the owner is in


def test_hammering_while_waiting_does_not_lengthen_the_wait(owner, clock):
    fail(5)
    for _ in range(20):
        assert login("owner", PASSWORD)[0] is None
    assert login_wait("owner", "10.0.0.66") == 4


def test_the_owner_is_not_locked_out_by_another_addresss_failures(owner, clock):
    for _ in range(12):
        clock.advance(login_wait("owner", "203.0.113.9"))
        fail(1, ip="203.0.113.9")
    assert login_wait("owner", "203.0.113.9") == 512
    user, _ = login("owner", PASSWORD, ip="10.0.0.7")
    assert user is not None and user.get_username() == "owner"


def test_many_users_behind_one_proxy_address_do_not_delay_each_other(business, owner, clock):
    create_operator(business, username="cashier", password=PASSWORD, role="cashier",
                    branches=[business.branches.get(code="t1")])
    proxy = "10.0.0.1"
    for name in ("owner", "nobody", "admin"):  # someone behind the proxy guesses at three usernames
        fail(30, username=name, ip=proxy)
    user, _ = login("cashier", PASSWORD, ip=proxy)
    assert user is not None and user.get_username() == "cashier"


def test_a_success_starts_the_pair_afresh(owner, clock):
    fail(4)  # a real login (the page) records the success, through Django's user_logged_in signal
    client = Client(REMOTE_ADDR="10.0.0.66")
    assert client.post("/login/", {"username": "owner", "password": PASSWORD}).status_code == 302
    fail(4)
    assert login_wait("owner", "10.0.0.66") == 0


def test_the_login_page_says_how_long_to_wait(owner, clock):
    client = Client(REMOTE_ADDR="10.0.0.66", HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(5):
        client.post("/login/", {"username": "owner", "password": "wrong"})
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "try again in 4 seconds" in response.content.decode()
    persian = Client(REMOTE_ADDR="10.0.0.66").post("/login/", {"username": "owner", "password": PASSWORD})
    assert "۴" in persian.content.decode() or "4 ثانیه" in persian.content.decode()
    clock.advance(4)
    assert client.post("/login/", {"username": "owner", "password": PASSWORD}).status_code == 302


def test_the_admin_login_says_how_long_to_wait_too(owner, clock):
    client = Client(REMOTE_ADDR="10.0.0.66", HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(5):
        client.post("/admin/login/", {"username": "owner", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "owner", "password": PASSWORD})
    assert "try again in 4 seconds" in response.content.decode()
