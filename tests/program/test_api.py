"""The program endpoints: read, validate, activate, simulate."""


import pytest
from tests.api.conftest import assert_problem
from tests.api.helpers import (
    LOYALTY_TABLE,
    PROGRAM_AS_SHOWN,
    available,
    counts,
    ok,
    seed_points,
    strip_reasons,
)

from vafa.program.models import ProgramVersion


class TestProgram:
    def test_get(self, reader, outsider):
        assert ok(reader.get("/program")) == {"version": 2, "document": PROGRAM_AS_SHOWN}
        other = ok(outsider.get("/program"))
        assert other["version"] == 1 and other["document"]["rules"][0]["per"] == 1_000  # the USD starter

    def test_put_activates_a_new_version(self, admin, reader, business):
        document = {"rules": [{"id": "double", "kind": "earn", "per": 100_000, "award": 20}],
                    "loyalty_table": LOYALTY_TABLE}
        body = ok(admin.put("/program", document))
        assert body == {"version": 3, "document": document}
        assert ok(reader.get("/program")) == {"version": 3, "document": document}
        assert list(ProgramVersion.objects.filter(business=business, active=True).values_list("version", flat=True)) == [3]
        from vafa.access.models import AuditEvent

        event = AuditEvent.objects.get(business=business, object_type="program")
        assert (event.action, event.object_id, event.status_code) == ("PUT /api/v1/program", "3", 200)

    def test_put_lists_every_problem_and_writes_nothing(self, admin, reader):
        before = counts()
        bad = {"rules": [{"id": "base", "kind": "earn", "per": 0, "award": -1}]}
        body = assert_problem(admin.put("/program", bad), 422, "invalid_input",
                              fields=["rules.0.per", "rules.0.award"])
        assert len(body["errors"]) == 2
        bad = {"nonsense": 1, "tiers": {"levels": [{"code": "a", "name": "A", "threshold": 5}]},
               "rules": [{"id": "m", "kind": "multiplier", "factor": 2, "applies_to": ["nope"]}]}
        body = assert_problem(admin.put("/program", bad), 422, "invalid_input")
        assert {e["field"] for e in body["errors"]} == {"nonsense", "tiers", "rules.0.applies_to"}
        assert counts() == before
        assert ok(reader.get("/program"))["version"] == 2

    def test_put_a_document_that_is_not_an_object(self, admin):
        before = counts()
        assert_problem(admin.put("/program", [1, 2]), 422, "invalid_input", fields=["document"])
        assert_problem(admin.put("/program", "not json"), 400, "bad_request")
        assert counts() == before

    def test_program_problem_messages_are_not_mangled(self, admin):
        body = assert_problem(admin.put("/program", {"rules": [{"id": "Bad Id", "kind": "earn", "award": 1}]}),
                              422, "invalid_input", fields=["rules.0.id"])
        assert "a-z0-9_" in body["errors"][0]["message"]

    def test_simulate_writes_nothing(self, reader, member, business):
        seed_points(business, member, 1_000)
        before = counts()
        body = ok(reader.post("/program/simulate", {"member": {"phone": "0912 123 4567"}, "branch": "t1",
                                                    "total": 2_000_000, "redeem": {"points": 350}},
                              idem="sim-1"))
        strip_reasons(body)  # the reason rendered, and as data
        assert body == {
            "id": None, "purchase_id": None, "receipt": None, "branch": None, "status": None, "dry_run": True,
            "other_amount": 0, "refused_codes": [], "rewards": [],
            "program_version": 2, "member_id": member.pk, "total": 2_000_000, "discount": 0,
            "points_redeemed": 300, "points_value": 30_000, "wallet_redeemed": 0, "gift_credit_redeemed": 0, "gift_card_redeemed": 0,
            "earning_base": 1_970_000, "payable": 1_970_000, "tier": "bronze",
            "balance": available(points=1_000 - 300 + 190),  # what the purchase would leave
            "effects": [{"kind": "earn", "rule_id": "base", "currency": "points", "amount": 190,
                         "reward_code": None, "reward_name": None}]}
        again = reader.post("/program/simulate", {"member": {"phone": "0912 123 4567"}, "branch": "t1",
                                                  "total": 2_000_000, "redeem": {"points": 350}}, idem="sim-1")
        assert ok(again)["points_redeemed"] == 300
        assert counts() == before

    @pytest.mark.parametrize("body, fields", [
        ({"member": {"member_id": 1}, "branch": "t1", "total": "100"}, ["total"]),
        ({"member": {"member_id": 1}, "branch": "t1", "total": 1.5}, ["total"]),
        ({"member": {"member_id": 1}, "branch": "t1"}, ["total"]),
        ({"member": {}, "branch": "t1", "total": 1}, ["member"]),
        ({"member": {"member_id": 1}, "branch": "t1", "total": 1, "dryrun": True}, ["dryrun"]),
    ])
    def test_simulate_bad_input(self, reader, member, body, fields):
        before = counts()
        assert_problem(reader.post("/program/simulate", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_simulate_unknown_branch(self, reader, member):
        body = assert_problem(reader.post("/program/simulate", {"member": {"member_id": member.pk},
                                                                "branch": "nowhere", "total": 1}),
                              422, "invalid_input", fields=["branch"])
        assert body["errors"][0]["code"] == "unknown_branch"
