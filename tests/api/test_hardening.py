"""Hardening findings on the API (issue 10)."""



from tests.api.conftest import assert_problem
from tests.api.helpers import counts, ok

from vafa.members.models import Member


class TestHardening:
    """Smaller findings of the security review (issue 10)."""

    def test_an_event_in_year_1_is_refused(self, business, member, api_client, write_key):
        writer = api_client(write_key)
        response = writer.post("/events", {"member": {"member_id": member.pk}, "name": "survey_completed",
                                           "occurred_at": "0001-01-01T00:00:00Z"}, headers={"Accept-Language": "en"})
        body = assert_problem(response, 422, "invalid_input", fields=["occurred_at"])
        assert body["errors"][0]["code"] == "too_early"
        assert writer.post("/events", {"member": {"member_id": member.pk}, "name": "survey_completed",
                                       "occurred_at": "2001-01-01T00:00:00Z"}).status_code == 201

    def test_a_write_key_cannot_make_a_candidate(self, member, api_client, write_key):
        response = api_client(write_key).patch(f"/members/{member.pk}", {"status": "candidate"})
        assert_problem(response, 422, "invalid_input", fields=["status"])
        assert Member.objects.get(pk=member.pk).status == Member.Status.ACTIVE

    def test_partnerships_are_the_owners_and_a_no_op_emits_nothing(self, operator_client, other_business,
                                                                   api_client, admin_key):
        from vafa.outbox.models import OutboxEvent

        manager = operator_client("manager")
        before = counts()
        assert_problem(manager.post("/partners/other"), 403, "owner_only")
        assert_problem(manager.delete("/partners/other"), 403, "owner_only")
        assert counts() == before
        admin = api_client(admin_key)  # an admin key is the owner's tool
        assert admin.delete("/partners/other").json()["state"] == "none"  # nothing to end
        assert OutboxEvent.objects.filter(business=other_business).count() == 0
        assert admin.post("/partners/other").json()["state"] == "offered"
        assert admin.post("/partners/other").json()["state"] == "offered"  # again: nothing changes
        assert OutboxEvent.objects.filter(business=other_business, event_type="partnership.changed").count() == 1
        assert ok(operator_client("owner").delete("/partners/other"))["state"] == "none"
