"""Settings → WooCommerce with Django's test client: connect (the secret shown once, then only its start), the
state and last delivery, rotate and disconnect; the owner's only, as POST /api/v1/integrations/woocommerce."""

import re

import pytest
from django.utils import timezone

from vafa.woocommerce.models import WooConnection
from vafa.woocommerce.services import create_connection

pytestmark = pytest.mark.django_db
URL = "/panel/settings/woocommerce"


def test_connect_shows_the_secret_once_then_only_its_start(signed_in):
    client = signed_in("owner")
    response = client.post(URL, {"branch": "t1", "sign_up_unknown": "no", "paid_statuses": "completed"})
    assert response.status_code == 302
    connection = WooConnection.objects.get()
    assert (connection.branch.code, connection.sign_up_unknown, connection.paid_statuses) == ("t1", False, ["completed"])
    first = client.get(URL).content.decode()
    assert connection.secret in first and f"/api/v1/woocommerce/{connection.token}" in first
    again = client.get(URL).content.decode()
    assert connection.secret not in again and f"{connection.secret[:4]}…" in again
    assert f"/api/v1/woocommerce/{connection.token}" in again  # the URL is not a secret: WooCommerce needs it


def test_state_and_last_delivery_are_shown(signed_in, business):
    connection = create_connection(business, branch_code="t1")
    WooConnection.objects.filter(pk=connection.pk).update(last_delivery_at=timezone.now())
    html = signed_in("owner").get(URL).content.decode()
    assert "وصل است" in html and re.search(r'data-testid="last-delivery">[^<]*۱۴', html)


def test_rotate_makes_a_new_secret_and_disconnect_stops_the_old(signed_in, business):
    old = create_connection(business, branch_code="t1", sign_up_unknown=False, paid_statuses=["completed"])
    client = signed_in("owner")
    assert client.post(f"{URL}/{old.pk}/rotate").status_code == 302
    new = WooConnection.objects.exclude(pk=old.pk).get()
    assert new.secret != old.secret and new.token != old.token
    assert (new.branch_id, new.sign_up_unknown, new.paid_statuses) == (old.branch_id, False, ["completed"])
    assert new.secret in client.get(URL).content.decode()
    assert client.post(f"{URL}/{old.pk}/deactivate").status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert not old.active and new.active


@pytest.mark.parametrize("language", ["fa", "en"])
def test_bad_input_writes_nothing_and_says_why_beside_the_field(operator, client, language):
    owner = operator("owner")
    owner.language = language
    owner.save()
    client.force_login(owner.user)
    html = client.post(URL, {"branch": "t1", "sign_up_unknown": "yes", "paid_statuses": "cancelled"}).content.decode()
    said = "is not a status of a paid order" if language == "en" else "پرداخت‌شده نیست"
    assert re.search(r'data-testid="error-paid_statuses">[^<]*' + said, html)
    html = client.post(URL, {"branch": "nope", "sign_up_unknown": "yes", "paid_statuses": "completed"}).content.decode()
    assert re.search(r'data-testid="error-branch">', html)
    assert not WooConnection.objects.exists()


@pytest.mark.parametrize("role", ["manager", "analyst", "cashier"])
def test_only_the_owner_administers_the_shop_connection(signed_in, business, role):
    connection = create_connection(business, branch_code="t1")
    client = signed_in(role, branch="t1" if role == "cashier" else None)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"branch": "t1", "sign_up_unknown": "yes", "paid_statuses": "completed"}).status_code == 403
    for action in ("rotate", "deactivate"):
        assert client.post(f"{URL}/{connection.pk}/{action}").status_code == 403
    assert WooConnection.objects.get().active and WooConnection.objects.count() == 1
