from tests.messaging.fake_kavenegar import API_KEY

from vafa.messaging import secrets
from vafa.messaging.models import MessagingSettings


def test_settings_partial_put_and_the_key_encrypted_answered_by_its_last_4(admin, business):
    assert admin.get("/messaging/settings").json()["sms_provider"] == "none"
    body = admin.put("/messaging/settings", {"sms_provider": "kavenegar", "sms_api_key": API_KEY}).json()
    assert (body["sms_provider"], body["sms_api_key"]) == ("kavenegar", API_KEY[-4:])
    body = admin.put("/messaging/settings", {"sms_sender": "2000660110", "price_per_part": 1200,
                                             "quiet_hours": {"start": "10:00", "end": "20:00"}}).json()
    assert (body["sms_provider"], body["sms_api_key"], body["sms_sender"], body["quiet_hours"]) == (
        "kavenegar", API_KEY[-4:], "2000660110", {"start": "10:00", "end": "20:00"})
    row = MessagingSettings.objects.get(business=business)
    assert API_KEY not in row.sms_api_key_encrypted and secrets.decrypt(row.sms_api_key_encrypted) == API_KEY
    assert API_KEY not in admin.get("/messaging/settings").content.decode()


def test_bad_settings_are_422_and_change_nothing(admin):
    response = admin.put("/messaging/settings", {"sms_provider": "carrier-pigeon", "quiet_hours":
                                                 {"start": "25:00", "end": "21:00"}})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} >= {"sms_provider", "quiet_hours"}
    assert admin.get("/messaging/settings").json()["sms_provider"] == "none"


def test_settings_need_an_admin_key(reader, writer):
    assert reader.get("/messaging/settings").status_code == 403
    assert writer.put("/messaging/settings", {"sms_provider": "file"}).status_code == 403


def test_templates_unknown_variable_is_422_at_save(admin):
    response = admin.put("/messaging/templates", [{"kind": "points_earned", "language": "fa",
                                                   "text": "{first_name} {points} امتیاز"}])
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "0.text" and "points" in response.json()["errors"][0]["message"]
    ok = admin.put("/messaging/templates", [{"kind": "points_earned", "language": "fa",
                                             "text": "{amount} گرفتی {first_name}!"}])
    assert ok.status_code == 200
    row = next(t for t in ok.json() if (t["kind"], t["language"]) == ("points_earned", "fa"))
    assert (row["text"], row["customised"], row["class"]) == ("{amount} گرفتی {first_name}!", True, "transactional")


def test_preview_for_a_member_in_persian_digits_and_toman(admin, business, member):
    from vafa.members.balances import adjust

    admin.put("/messaging/settings", {"price_per_part": 1500})
    adjust(business, member.pk, "wallet", 250_000, reason="x")
    body = admin.post("/messaging/templates/preview", {"text": "{first_name}: {balance}",
                                                       "member_id": member.pk}).json()
    assert body == {"text": "علی: ۲۵۰٬۰۰۰ تومان اعتبار کیف پول", "encoding": "ucs2", "characters": 33, "parts": 1,
                    "cost": 1500}
    long = admin.post("/messaging/templates/preview", {"text": "س" * 71}).json()
    assert (long["characters"], long["parts"], long["cost"]) == (71, 2, 3000)
    assert admin.post("/messaging/templates/preview", {"text": "{nope}"}).status_code == 422


def test_one_message_to_one_member_and_the_log(writer, reader, file_business, member):
    from tests.messaging.conftest import sent_lines

    from vafa.messaging.tasks import send_due

    created = writer.post("/messages", {"member_id": member.pk, "text": "سلام {first_name}"}, idem="m-1")
    assert created.status_code == 201 and created.json()["text"] == "سلام علی"
    send_due()
    assert [line["text"] for line in sent_lines("manual")] == ["سلام علی"]
    log = reader.get("/messaging/messages", {"member_id": member.pk, "status": "delivered"}).json()["items"]
    assert [(m["kind"], m["state"], m["parts"], m["cost"]) for m in log if m["kind"] == "manual"] == [
        ("manual", "delivered", 1, 1000)]


def test_an_email_to_one_member(writer, file_business, member):
    from django.core import mail

    from vafa.members.services import MemberUpdate, update_member
    from vafa.messaging.services import update_settings
    from vafa.messaging.tasks import send_due

    update_settings(file_business, email_from="club@cafe.example")
    assert writer.post("/messages", {"member_id": member.pk, "text": "x", "channel": "email"}).status_code == 422
    update_member(file_business, MemberUpdate.check(file_business, member.pk, email="ali@example.com"))
    created = writer.post("/messages", {"member_id": member.pk, "text": "سلام {first_name}", "channel": "email"})
    assert created.status_code == 201 and created.json()["to"] == "ali@example.com"
    send_due()
    [sent] = mail.outbox
    assert (sent.to, sent.from_email, sent.subject, sent.body) == (["ali@example.com"], "club@cafe.example",
                                                                   "کافه وفا", "سلام علی")
    assert 'dir="rtl"' in sent.alternatives[0][0]


def test_reminder_days_occasion_gifts_and_the_email_channel_are_settings(admin, business):
    from vafa.vouchers.services import create_definition

    body = admin.get("/messaging/settings").json()
    assert (body["expiry_reminder_days"], body["occasion_gifts"], body["email_channel"]) == (7, {}, "off")
    coffee = create_definition(business, name="قهوه", kind="fixed", amount=100_000)
    gifts = {"birthday": {"*": {"currency": "gift_credit", "amount": 50_000},
                          "gold": {"voucher_definition_id": coffee.pk}}}
    body = admin.put("/messaging/settings", {"expiry_reminder_days": 3, "occasion_gifts": gifts,
                                             "email_channel": "also"}).json()
    assert (body["expiry_reminder_days"], body["occasion_gifts"], body["email_channel"]) == (3, gifts, "also")
    response = admin.put("/messaging/settings", {
        "email_channel": "fax", "occasion_gifts": {
            "graduation": {"*": {"currency": "points", "amount": 5}},
            "holiday": {"*": {"currency": "wallet", "amount": 5}, "gold": {"voucher_definition_id": 999_999}}}})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "email_channel", "occasion_gifts.graduation", "occasion_gifts.holiday.*", "occasion_gifts.holiday.gold"}
    assert admin.get("/messaging/settings").json()["occasion_gifts"] == gifts
