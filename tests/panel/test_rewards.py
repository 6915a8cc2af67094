"""Rewards screens with Django's test client: vouchers (create, generate, import, export), the gift catalogue
and its request queue (fulfil, reject with refund, ship), gift credit to a member or a tier; the API's scopes."""

import io
import re

import openpyxl
import pytest

from vafa.catalogue import services as catalogue
from vafa.catalogue.models import Gift, GiftRequest
from vafa.ledger.selectors import balances
from vafa.members.balances import adjust
from vafa.vouchers.models import VoucherCode, VoucherDefinition

pytestmark = pytest.mark.django_db


def voucher(client) -> VoucherDefinition:
    response = client.post("/panel/rewards/vouchers/", {"voucher-name": "یلدا", "voucher-kind": "percent",
                                                       "voucher-percent": "10", "voucher-starts_on": "1405/09/01"})
    assert response.status_code == 302
    return VoucherDefinition.objects.get(name="یلدا")


def test_create_voucher_generate_100_codes_and_export_them(signed_in):
    client = signed_in("owner")
    definition = voucher(client)
    assert definition.percent == 10 and definition.starts_on.isoformat() == "2026-11-22"
    assert client.post(f"/panel/rewards/vouchers/{definition.pk}/", {"action": "generate", "gen-count": "۱۰۰",
                                                                   "gen-prefix": "YL"}).status_code == 302
    assert VoucherCode.objects.filter(definition=definition).count() == 100
    response = client.get(f"/panel/rewards/vouchers/{definition.pk}/?export=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert sorted(codes) == sorted(VoucherCode.objects.values_list("code", flat=True)) and len(codes) == 100


def test_bad_voucher_writes_nothing_and_says_why(signed_in):
    html = signed_in("owner").post("/panel/rewards/vouchers/", {"voucher-name": "x", "voucher-kind": "percent"}).content.decode()
    assert "is-invalid" in html or "alert-danger" in html
    assert not VoucherDefinition.objects.exists()


def test_import_codes_from_csv(signed_in):
    client = signed_in("owner")
    definition = voucher(client)
    upload = io.BytesIO(b"code\nAB12\nCD34\n")
    upload.name = "codes.csv"
    assert client.post(f"/panel/rewards/vouchers/{definition.pk}/", {"action": "import", "imp-file": upload}).status_code == 302
    assert set(VoucherCode.objects.values_list("code", flat=True)) == {"AB12", "CD34"}


@pytest.mark.parametrize("role", ["manager", "analyst", "cashier"])
def test_vouchers_need_admin_as_in_the_api(signed_in, role):
    client = signed_in(role, branch="t1" if role == "cashier" else None)
    expected = 200 if role == "manager" else 403
    assert client.get("/panel/rewards/vouchers/").status_code == expected


def test_create_gift_with_a_new_group(signed_in):
    client = signed_in("owner")
    response = client.post("/panel/rewards/gifts/", {"gift-title": "ماگ", "gift-new_group": "لوازم",
                                                    "gift-price_currency": "points", "gift-price": "۵۰۰",
                                                    "gift-stock": "3"})
    assert response.status_code == 302
    gift = Gift.objects.get()
    assert (gift.group.title, gift.price, gift.stock) == ("لوازم", 500, 3)


def requested(business, member, price=500):
    gift = catalogue.create_gift(business, title="ماگ", price_currency="points", price=price, stock=2)
    adjust(business, member.pk, "points", 1000, reason="شارژ")
    return GiftRequest.objects.get(pk=catalogue.request_gift(business, member.pk, gift.pk)["id"])


def test_fulfil_then_ship(signed_in, business, member):
    request = requested(business, member)
    client = signed_in("cashier", branch="t1")
    assert "data-testid=\"fulfil\"" in client.get("/panel/rewards/requests/").content.decode()
    client.post(f"/panel/rewards/requests/{request.pk}/fulfil", {"note": "آماده"})
    client.post(f"/panel/rewards/requests/{request.pk}/ship", {"note": "پیک ۱۲"})
    request.refresh_from_db()
    assert (request.status, request.shipping_note) == ("shipped", "پیک ۱۲")


def test_reject_refunds_the_member(signed_in, business, member):
    request = requested(business, member)
    assert balances(member)["points"]["available"] == 500
    signed_in("owner").post(f"/panel/rewards/requests/{request.pk}/reject", {"note": "تمام شد"})
    request.refresh_from_db()
    assert request.status == "rejected" and balances(member)["points"]["available"] == 1000


def test_analyst_cannot_handle_requests(signed_in, business, member):
    request = requested(business, member)
    assert signed_in("analyst").post(f"/panel/rewards/requests/{request.pk}/fulfil").status_code == 403
    request.refresh_from_db()
    assert request.status == "requested"


def test_grant_gift_credit_to_a_tier(signed_in, business, make_member):
    silver = [make_member(), make_member()]
    for m in silver:
        m.tier = "silver"
        m.save(update_fields=["tier"])
    bronze = make_member()
    client = signed_in("owner")
    response = client.post("/panel/rewards/gift-credit", {"grant-who": "tier", "grant-tier": "silver",
                                                         "grant-amount": "۵۰٬۰۰۰", "grant-reason": "یلدا"})
    assert response.status_code == 302
    assert [balances(m)["gift_credit"]["available"] for m in silver] == [50_000, 50_000]
    assert balances(bronze)["gift_credit"]["available"] == 0


def test_grant_to_an_unknown_member_writes_nothing(signed_in, member):
    html = signed_in("owner").post("/panel/rewards/gift-credit", {"grant-who": "member", "grant-member": "NOPE",
                                                                 "grant-amount": "1000", "grant-reason": "x"}).content.decode()
    assert "is-invalid" in html
    assert balances(member)["gift_credit"]["available"] == 0


def test_issue_a_gift_card(signed_in):
    from vafa.ledger.models import GiftCard

    client = signed_in("owner")
    assert client.post("/panel/rewards/gift-cards/", {"card-amount": "۵۰۰٬۰۰۰"}).status_code == 302
    card = GiftCard.objects.get()
    assert (card.initial_amount, card.balance) == (500_000, 500_000)
    assert card.code in client.get("/panel/rewards/gift-cards/?export=csv").getvalue().decode()


def test_create_a_cause_and_a_bad_code_writes_nothing(signed_in):
    from vafa.clubs.models import Cause

    client = signed_in("owner")
    assert client.post("/panel/rewards/causes/", {"action": "create", "cause-code": "trees", "cause-name": "کاشت درخت",
                                                  "cause-goal": "۱۰۰۰۰"}).status_code == 302
    html = client.post("/panel/rewards/causes/", {"action": "create", "cause-code": "درخت",
                                                  "cause-name": "x"}).content.decode()
    assert "is-invalid" in html
    assert list(Cause.objects.values_list("code", "goal")) == [("trees", 10_000)]
    assert "کاشت درخت" in client.get("/panel/rewards/causes/").content.decode()


def test_donate_a_members_points_to_a_cause_as_the_api_allows(signed_in, business, member):
    """GET /causes: read; POST /causes: admin; POST /members/{id}/donations: write."""
    from vafa.clubs.models import Cause, Donation
    from vafa.clubs.services import create_cause

    create_cause(business, code="trees", name="کاشت درخت")
    adjust(business, member.pk, "points", 300, reason="شارژ")
    cashier = signed_in("cashier", branch="t1")
    assert 'data-testid="cause-form"' not in cashier.get("/panel/rewards/causes/").content.decode()
    assert cashier.post("/panel/rewards/causes/", {"action": "create", "cause-code": "x", "cause-name": "x"}).status_code == 403
    html = cashier.post("/panel/rewards/causes/", {"action": "donate", "donate-member": member.code,
                                                   "donate-cause": "trees", "donate-points": "۵۰۰"}).content.decode()
    assert "موجودی کافی نیست" in html and not Donation.objects.exists()
    assert cashier.post("/panel/rewards/causes/", {"action": "donate", "donate-member": member.code,
                                                   "donate-cause": "trees", "donate-points": "۱۰۰"}).status_code == 302
    assert Donation.objects.get().points == 100 and balances(member)["points"]["available"] == 200
    analyst = signed_in("analyst")
    assert "کاشت درخت" in analyst.get("/panel/rewards/causes/").content.decode()
    assert analyst.post("/panel/rewards/causes/", {"action": "donate", "donate-member": member.code,
                                                   "donate-cause": "trees", "donate-points": "1"}).status_code == 403
    assert Donation.objects.count() == 1 and Cause.objects.count() == 1


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_DIR = tmp_path / "media"
    return settings.MEDIA_DIR


def gift_form(**extra) -> dict:
    return {"gift-title": "ماگ", "gift-price_currency": "points", "gift-price": "۵۰۰"} | extra


def test_a_gift_picture_is_uploaded_stored_with_a_random_name_and_served_as_an_image(
        signed_in, media, business, member, client, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    owner = signed_in("owner")
    upload = SimpleUploadedFile("mug.svg", PNG, content_type="image/svg+xml")  # the bytes decide, not the name
    assert owner.post("/panel/rewards/gifts/", gift_form(**{"gift-picture": upload})).status_code == 302
    gift = Gift.objects.get()
    name = gift.picture.removeprefix("/media/gifts/")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}\.png", name) and (media / "gifts" / name).read_bytes() == PNG
    assert (media / "gifts" / name).stat().st_mode & 0o077 == 0
    served = client.get(gift.picture)
    assert served.status_code == 200 and served["Content-Type"] == "image/png" and served.content == PNG
    assert served["X-Content-Type-Options"] == "nosniff" and served["Content-Security-Policy"] == "default-src 'none'"
    assert f'src="{gift.picture}"' in owner.get(f"/panel/rewards/gifts/{gift.pk}/").content.decode()
    # a new picture replaces the file; the old one is gone
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(f"/panel/rewards/gifts/{gift.pk}/", gift_form(**{"gift-picture": SimpleUploadedFile("m.jpg", jpeg)}))
    gift.refresh_from_db()
    assert gift.picture.endswith(".jpg") and not (media / "gifts" / name).exists()
    assert client.get(gift.picture)["Content-Type"] == "image/jpeg"
    for bad in ("../../secret_key", "x.png", name):
        assert client.get(f"/media/gifts/{bad}").status_code == 404


@pytest.mark.parametrize(("data", "said"), [
    (b"<svg onload=alert(1)></svg>", "تصویر PNG، JPEG یا WebP نیست"),
    (b"<html><script>alert(1)</script></html>", "تصویر PNG، JPEG یا WebP نیست"),
    (PNG + b"\x00" * (1024 * 1024), "بیش از حد بزرگ است"),
])
def test_a_bad_picture_writes_nothing_and_says_why_beside_the_field(signed_in, media, data, said):
    from django.core.files.uploadedfile import SimpleUploadedFile

    html = signed_in("owner").post("/panel/rewards/gifts/", gift_form(**{
        "gift-picture": SimpleUploadedFile("mug.png", data, content_type="image/png")})).content.decode()
    assert re.search(r'data-testid="error-picture">' + said, html)
    assert not Gift.objects.exists() and not (media / "gifts").exists()


def test_a_bad_picture_in_english(operator, client, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    owner = operator("owner")
    owner.language = "en"
    owner.save()
    client.force_login(owner.user)
    html = client.post("/panel/rewards/gifts/", gift_form(**{
        "gift-picture": SimpleUploadedFile("a.png", b"GIF89a")})).content.decode()
    assert re.search(r'data-testid="error-picture">is not a PNG, JPEG or WebP image', html)


def test_the_portal_shows_uploaded_pictures_and_not_other_sites_addresses(business, member, media, client):
    from vafa.portal.session import session_key

    catalogue.create_gift(business, title="از بیرون", price_currency="points", price=10,
                          picture="https://cdn.example/old.png")
    gift = catalogue.create_gift(business, title="ماگ", price_currency="points", price=10)
    catalogue.set_gift_picture(business, gift.pk, PNG)
    gift.refresh_from_db()
    session = client.session
    session[session_key(business)] = member.pk
    session.save()
    html = client.get(f"/m/{business.slug}/gifts/").content.decode()
    assert f'src="{gift.picture}"' in html and "cdn.example" not in html


def test_an_old_address_is_flagged_for_upload_in_the_panel(signed_in, business):
    old = catalogue.create_gift(business, title="قدیمی", price_currency="points", price=10,
                                picture="https://cdn.example/old.png")
    client = signed_in("owner")
    assert "آدرس تنها: بارگذاری کنید" in client.get("/panel/rewards/gifts/").content.decode()
    html = client.get(f"/panel/rewards/gifts/{old.pk}/").content.decode()
    assert "https://cdn.example/old.png" in html and "<img" not in html.split('data-testid="gift-picture"')[1][:300]


def test_edit_a_gift_through_the_catalogue_service(signed_in, business):
    gift = catalogue.create_gift(business, title="ماگ", price_currency="points", price=10, stock=3)
    client = signed_in("owner")
    assert client.post(f"/panel/rewards/gifts/{gift.pk}/", gift_form(**{"gift-title": "ماگ بزرگ",
                                                                       "gift-price": "20",
                                                                       "gift-stock": "3"})).status_code == 302
    gift.refresh_from_db()
    assert (gift.title, gift.price, gift.stock) == ("ماگ بزرگ", 20, 3)
    html = client.post(f"/panel/rewards/gifts/{gift.pk}/", gift_form(**{"gift-price": "0"})).content.decode()
    assert 'data-testid="error-price"' in html
    gift.refresh_from_db()
    assert gift.price == 20
