"""The members endpoints: sign-up, search, the member, cards."""


import pytest
from tests.api.conftest import assert_problem
from tests.api.helpers import (
    assert_replay,
    counts,
    member_json,
    ok,
    purchase_body,
    same_moment,
    seed_points,
    stored,
    without_joined,
)

from vafa.core.idempotency import fingerprint
from vafa.core.luhn import check_digit
from vafa.core.luhn import is_valid as luhn_valid
from vafa.core.models import IdempotencyRecord
from vafa.members.models import Card, Member
from vafa.members.schemas import MemberIn
from vafa.members.services import CardIssue, issue_card


class TestSignUp:
    def test_sign_up(self, writer, business):
        before = counts()
        response = writer.post("/members", {
            "mobile": "۰۹۱۲ ۱۱۱ ۲۲۳۳", "first_name": " مریم ", "last_name": "احمدی", "email": "m@example.com",
            "birth_date": "1370/06/15", "anniversary": "2015-05-01", "gender": "female", "job": "معلم",
            "education": "ارشد", "interests": ["قهوه", "کتاب"], "source": "instagram"})
        body = ok(response, 201)
        member = Member.objects.get(business=business, mobile="+989121112233")
        assert body["id"] == member.pk and len(body["code"]) == 7 and body["code"] == member.code
        assert same_moment(body["joined_at"], member.joined_at)
        assert without_joined(body) == {
            "id": member.pk, "code": member.code, "mobile": "+989121112233", "first_name": "مریم",
            "last_name": "احمدی", "email": "m@example.com", "birth_date": "1991-09-06",
            "anniversary": "2015-05-01", "gender": "female", "job": "معلم", "education": "ارشد",
            "interests": ["قهوه", "کتاب"], "join_source": "instagram", "status": "active", "tier": "bronze"}
        after = counts()
        assert after["members.Member"] == before["members.Member"] + 1
        assert after["access.AuditEvent"] == before["access.AuditEvent"] + 1

    @pytest.mark.parametrize("mobile", ["09121112233", "+989121112233", "989121112233", "9121112233",
                                        "۰۹۱۲۱۱۱۲۲۳۳", "٠٩١٢١١١٢٢٣٣", "0912-111-2233"])
    def test_every_spelling_of_a_mobile(self, writer, mobile):
        assert ok(writer.post("/members", {"mobile": mobile}), 201)["mobile"] == "+989121112233"

    def test_a_referral(self, writer, member):
        body = ok(writer.post("/members", {"mobile": "09121112233", "referral_code": member.code.lower()}), 201)
        assert Member.objects.get(pk=body["id"]).referred_by_id == member.pk

    @pytest.mark.parametrize("body, fields, codes", [
        ({}, ["mobile"], ["required"]),
        ({"first_name": "x"}, ["mobile"], ["required"]),
        ({"mobile": None}, ["mobile"], None),
        ({"mobile": 9121112233}, ["mobile"], ["must_be_text"]),
        ({"mobile": "12345"}, ["mobile"], ["not_a_phone"]),
        ({"mobile": "02122334455"}, ["mobile"], ["not_a_mobile"]),
        ({"mobile": "12", "email": "nope", "gender": "x"}, ["mobile", "email", "gender"], None),
        ({"mobile": "09121112233", "birth_date": "1370/13/01"}, ["birth_date"], None),
        ({"mobile": "09121112233", "birth_date": "2999-01-01"}, ["birth_date"], ["date_in_future"]),
        ({"mobile": "09121112233", "interests": "coffee"}, ["interests"], ["must_be_list"]),
        ({"mobile": "09121112233", "first_name": "x" * 101}, ["first_name"], ["too_long"]),
        ({"mobile": "09121112233", "nickname": "x"}, ["nickname"], ["unknown_field"]),
        ({"mobile": "09121112233", "referral_code": "ZZZZZZZ"}, ["referral_code"], ["unknown_referral_code"]),
    ])
    def test_bad_input_is_422_naming_the_field_and_writes_nothing(self, writer, member, body, fields, codes):
        before = counts()
        problem = assert_problem(writer.post("/members", body), 422, "invalid_input", fields=fields)
        if codes is not None:
            assert {e["field"]: e["code"] for e in problem["errors"]} == dict(zip(fields, codes, strict=True))
        assert counts() == before

    def test_self_referral(self, writer, member):
        before = counts()
        body = assert_problem(writer.post("/members", {"mobile": "09121234567", "referral_code": member.code}),
                              422, fields=["referral_code"])
        assert body["errors"][0]["code"] == "self_referral"
        assert counts() == before

    def test_a_mobile_already_a_member_is_409(self, writer, member):
        before = counts()
        body = assert_problem(writer.post("/members", {"mobile": "+98 912 123 4567"}), 409, "mobile_taken")
        assert body["mobile"] == "+989121234567"
        assert counts() == before

    def test_not_json_is_400(self, writer):
        before = counts()
        assert_problem(writer.post("/members", "{not json"), 400, "bad_request")
        assert counts() == before

    def test_replay(self, writer):
        first = writer.post("/members", {"mobile": "09121112233", "first_name": "A"}, idem="m-1")
        ok(first, 201)
        before = stored()
        again = writer.post("/members", {"mobile": "09121112233", "first_name": "A"}, idem="m-1")
        assert_replay(first, again)
        conflict = writer.post("/members", {"mobile": "09121112233", "first_name": "B"}, idem="m-1")
        body = assert_problem(conflict, 409, "idempotency_key_reused")
        assert body["key"] == "m-1"
        assert stored() == before

    def test_a_key_stored_under_the_former_scope_replays(self, writer):
        """Keys stored before sign-up became the use case member.sign_up (scope api:member.create, the payload
        as the request): the same request answers the stored answer, another one is still a 409."""
        body = {"mobile": "09121112233", "first_name": "A"}
        first = writer.post("/members", body, idem="m-old")
        ok(first, 201)
        IdempotencyRecord.objects.filter(key="m-old").update(
            operation="api:member.create", fingerprint=fingerprint("api:member.create", MemberIn(**body).model_dump()))
        before = stored()
        assert_replay(first, writer.post("/members", body, idem="m-old"))
        assert stored() == before and Member.objects.count() == 1
        conflict = writer.post("/members", body | {"first_name": "B"}, idem="m-old")
        assert assert_problem(conflict, 409, "idempotency_key_reused")["key"] == "m-old"

    def test_a_failed_request_does_not_burn_its_idempotency_key(self, writer):
        assert_problem(writer.post("/members", {"mobile": "12"}, idem="m-2"), 422)
        ok(writer.post("/members", {"mobile": "09121112233"}, idem="m-2"), 201)

    @pytest.mark.parametrize("key", ["", "k" * 201])
    def test_a_bad_idempotency_key(self, writer, key):
        before = counts()
        assert_problem(writer.post("/members", {"mobile": "09121112233"}, idem=key), 422, "invalid_input",
                       fields=["Idempotency-Key"])
        assert counts() == before


class TestFindMembers:
    def test_by_phone_card_code_and_text(self, reader, member, card, make_member):
        other = make_member(first_name="رضا", last_name="کریمی")
        expected = ok(reader.get(f"/members/{member.pk}"))
        for query in ({"phone": "09121234567"}, {"phone": "۰۹۱۲۱۲۳۴۵۶۷"}, {"phone": "+989121234567"},
                      {"card": card.number}, {"code": member.code}, {"code": member.code.lower()},
                      {"q": "علی"}, {"q": "رضایی"}, {"q": "1234567"}):
            assert ok(reader.get("/members", query)) == {"items": [expected], "next_cursor": None}, query
        assert [m["id"] for m in ok(reader.get("/members", {"q": "کریمی"}))["items"]] == [other.pk]
        assert [m["id"] for m in ok(reader.get("/members", {"q": "رضا"}))["items"]] == [other.pk, member.pk]
        for query in ({"phone": "09129999999"}, {"phone": "garbage"}, {"card": "6000000000000000"},
                      {"code": "NOPE123"}, {"q": "nobody"}):
            assert ok(reader.get("/members", query)) == {"items": [], "next_cursor": None}, query

    def test_pages(self, reader, member, make_member):
        ids = [member.pk] + [make_member().pk for _ in range(4)]
        seen, cursor, pages = [], None, 0
        while True:
            body = ok(reader.get("/members", {"limit": 2, **({"cursor": cursor} if cursor else {})}))
            pages += 1
            assert len(body["items"]) <= 2
            seen += [m["id"] for m in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == sorted(ids, reverse=True)  # newest first, each once

    @pytest.mark.parametrize("query, field", [({"cursor": "!!!"}, "cursor"), ({"cursor": "bm90IGEgbnVtYmVy"},
                                                                                "cursor"),
                                              ({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
                                              ({"limit": "ten"}, "limit")])
    def test_bad_paging(self, reader, member, query, field):
        assert_problem(reader.get("/members", query), 422, "invalid_input", fields=[field])


class TestMember:
    def test_get(self, reader, member):
        body = ok(reader.get(f"/members/{member.pk}"))
        assert without_joined(body) == member_json(member)
        assert body["mobile"] == "+989121234567" and body["first_name"] == "علی" and body["tier"] == "bronze"

    def test_unknown_and_bad_ids(self, reader):
        assert_problem(reader.get("/members/999999"), 404, "member_not_found")
        assert_problem(reader.get("/members/99999999999999999999999"), 404, "member_not_found")
        assert_problem(reader.get("/members/abc"), 422, "invalid_input", fields=["member_id"])

    def test_patch(self, writer, member, business):
        body = ok(writer.patch(f"/members/{member.pk}", {"first_name": "رضا", "email": "r@example.com",
                                                         "birth_date": "1365/01/01", "interests": ["چای"],
                                                         "mobile": "09351112233", "status": "blocked"}))
        assert without_joined(body) == member_json(member)
        assert (body["first_name"], body["last_name"], body["email"], body["birth_date"], body["interests"],
                body["mobile"], body["status"]) == ("رضا", "رضایی", "r@example.com", "1986-03-21", ["چای"],
                                                    "+989351112233", "blocked")

    @pytest.mark.parametrize("body, fields", [
        ({"gender": "x", "email": "nope"}, ["email", "gender"]),
        ({"mobile": None}, ["mobile"]),
        ({"status": None, "interests": None}, ["status", "interests"]),
        ({"mobile": "12"}, ["mobile"]),
        ({"status": "deleted"}, ["status"]),
        ({"code": "AAAAAAA"}, ["code"]),
        ({"first_name": ["x"]}, ["first_name"]),
        ({"birth_date": "tomorrow"}, ["birth_date"]),
    ])
    def test_patch_bad_input_changes_nothing(self, writer, member, body, fields):
        before, member_before = counts(), member_json(member)
        assert_problem(writer.patch(f"/members/{member.pk}", body), 422, "invalid_input", fields=fields)
        assert counts() == before
        assert member_json(member) == member_before

    def test_patch_to_a_taken_mobile_is_409(self, writer, member, make_member):
        other = make_member()
        before = member_json(member)
        assert_problem(writer.patch(f"/members/{member.pk}", {"mobile": other.mobile}), 409, "mobile_taken")
        assert member_json(member) == before


class TestCards:
    def test_issue(self, writer, member, business):
        body = ok(writer.post(f"/members/{member.pk}/cards", {}), 201)
        assert len(body["number"]) == 16 and luhn_valid(body["number"])
        assert (body["kind"], body["status"]) == ("qr", "active")
        card = Card.objects.get(business=business, number=body["number"])
        assert card.member_id == member.pk and same_moment(body["issued_at"], card.issued_at)

    def test_issue_a_preprinted_card(self, writer, reader, member):
        number = "6" + "1" * 14
        number += check_digit(number)
        body = ok(writer.post(f"/members/{member.pk}/cards", {"kind": "magnetic", "number": number}), 201)
        assert (body["number"], body["kind"], body["status"]) == (number, "magnetic", "active")
        assert [m["id"] for m in ok(reader.get("/members", {"card": number}))["items"]] == [member.pk]
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"number": number}), 409, "card_number_taken")

    @pytest.mark.parametrize("body, fields", [
        ({"kind": "nfc"}, ["kind"]),
        ({"number": "6111111111111112"}, ["number"]),
        ({"number": "1" * 20}, ["number"]),
        ({"colour": "red"}, ["colour"]),
        ({"kind": 1}, ["kind"]),
    ])
    def test_bad_input(self, writer, member, body, fields):
        before = counts()
        assert_problem(writer.post(f"/members/{member.pk}/cards", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_replace_keeps_balances_and_blocks_the_old_number(self, business, writer, reader, member, card):
        seed_points(business, member, 700)
        ok(writer.post("/purchases", purchase_body({"card": card.number}, "C-1", 500_000)), 201)
        balance_before = ok(reader.get(f"/members/{member.pk}/balance"))
        body = ok(writer.post(f"/members/{member.pk}/cards", {"replace": card.number}), 201)
        assert body["number"] != card.number and luhn_valid(body["number"])
        assert body["status"] == "active"
        card.refresh_from_db()
        assert card.status == "replaced" and card.replaced_by.number == body["number"]
        assert ok(reader.get(f"/members/{member.pk}/balance")) == balance_before
        assert ok(reader.get("/members", {"card": card.number}))["items"] == []
        assert [m["id"] for m in ok(reader.get("/members", {"card": body["number"]}))["items"]] == [member.pk]
        before = counts()
        assert_problem(writer.post("/purchases", purchase_body({"card": card.number}, "C-2", 100_000)), 404,
                       "member_not_found")
        assert counts() == before
        ok(writer.post("/purchases", purchase_body({"card": body["number"]}, "C-2", 100_000)), 201)
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"replace": card.number}), 409,
                       "card_already_replaced")

    def test_a_replacement_keeps_the_old_cards_kind(self, writer, member, card):
        body = ok(writer.post(f"/members/{member.pk}/cards", {"replace": card.number}), 201)
        assert body["kind"] == "magnetic"

    def test_replace_an_unknown_card_or_another_members_card(self, business, writer, member, make_member):
        someone = make_member()
        theirs = issue_card(business, CardIssue.check(someone.pk)).card
        before = counts()
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"replace": "6000000000000000"}), 404,
                       "card_not_found")
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"replace": theirs.number}), 404,
                       "card_not_found")
        assert counts() == before

    def test_replay(self, writer, member):
        first = writer.post(f"/members/{member.pk}/cards", {"kind": "barcode"}, idem="card-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post(f"/members/{member.pk}/cards", {"kind": "barcode"}, idem="card-1"))
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"kind": "qr"}, idem="card-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before
