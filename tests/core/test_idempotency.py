"""Idempotent writes: a key's claim goes before the use case's first statement (in its round trip); the same key
and request replay, another request is refused. Bulk writes claim the key before their batches, a duplicate
meanwhile is told to wait, a failure gives the key back (issue 10)."""

import pytest
from tests.conftest import postgres_only
from tests.race import race

from vafa.core.errors import Conflict, IdempotencyConflict
from vafa.core.idempotency import SystemKey, run_idempotent, run_idempotent_in_batches
from vafa.core.models import IdempotencyRecord


def test_a_duplicate_during_a_bulk_write_is_409_and_a_replay_after_it_answers_the_first(business):
    def use_case():
        with pytest.raises(Conflict) as caught:  # the same request again while the first is still writing
            run_idempotent_in_batches(business, "bulk-1", "grant", {"n": 1}, lambda: {"n": 2})
        assert caught.value.detail == "request_in_progress"
        return {"n": 1}

    assert run_idempotent_in_batches(business, "bulk-1", "grant", {"n": 1}, use_case) == ({"n": 1}, False)
    assert run_idempotent_in_batches(business, "bulk-1", "grant", {"n": 1}, lambda: {"n": 3}) == ({"n": 1}, True)


def test_a_failed_bulk_write_gives_its_key_back(business):
    def failing():
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError):
        run_idempotent_in_batches(business, "bulk-2", "grant", {}, failing)
    assert not IdempotencyRecord.objects.filter(key="bulk-2").exists()
    assert run_idempotent_in_batches(business, "bulk-2", "grant", {}, lambda: {"ok": True}) == ({"ok": True}, False)


def test_vafas_own_keys_never_meet_a_clients(business):
    run_idempotent(business, "woo-refund-1-2", "return", {"client": True}, lambda: {"by": "client"})
    answer = run_idempotent(business, SystemKey("woo-refund-1-2"), "return", {"shop": True}, lambda: {"by": "shop"})
    assert answer == ({"by": "shop"}, False)


def test_a_keys_claim_goes_before_the_use_cases_first_statement(business, member):
    """The claim rides with the use case's first statement (core.sql.first_statement): a key already answered
    stops the use case there, before anything it would write, and answers the stored response."""
    from vafa.members.models import Member

    def rename(name: str):
        def use_case() -> dict:
            Member.objects.filter(pk=member.pk).update(first_name=name)
            return {"name": name}
        return use_case

    assert run_idempotent(business, "k-1", "rename", {"n": 1}, rename("first")) == ({"name": "first"}, False)
    assert run_idempotent(business, "k-1", "rename", {"n": 1}, rename("second")) == ({"name": "first"}, True)
    with pytest.raises(IdempotencyConflict):
        run_idempotent(business, "k-1", "rename", {"n": 2}, rename("third"))
    member.refresh_from_db()
    assert member.first_name == "first"
    assert IdempotencyRecord.objects.get(key="k-1").response == {"name": "first"}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_one_key_posted_at_once_with_two_requests_makes_one_purchase(business, member):
    """20 threads, one key, two different purchases (10 each): one is made; the others wait on its claim, then
    replay it (the same request) or are refused (409)."""
    from vafa.purchases.models import Purchase
    from vafa.purchases.services import record_purchase

    def attempt(i: int) -> str:
        body = record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"K-{i % 2}",
                               total=100_000 * (1 + i % 2), idempotency_key="one-key")
        return f"{body['receipt']} replayed" if body["replayed"] else f"{body['receipt']} made"

    outcomes = race(20, attempt, IdempotencyConflict, lambda exc: "409")
    made = [outcome for outcome in outcomes if outcome.endswith("made")]
    assert len(made) == 1, outcomes
    receipt = made[0].split()[0]
    assert outcomes == sorted(made + [f"{receipt} replayed"] * 9 + ["409"] * 10)
    assert list(Purchase.objects.values_list("receipt", flat=True)) == [receipt]


def test_a_key_answered_before_replays_even_when_the_use_case_would_now_refuse_before_its_first_statement(
        business):
    assert run_idempotent(business, "k-2", "grant", {"n": 1}, lambda: {"n": 1}) == ({"n": 1}, False)

    def refused_now() -> dict:  # e.g. a check against the clock, before any statement
        raise Conflict("too_late")

    assert run_idempotent(business, "k-2", "grant", {"n": 1}, refused_now) == ({"n": 1}, True)
    with pytest.raises(Conflict):
        run_idempotent(business, "k-3", "grant", {"n": 1}, refused_now)
    assert not IdempotencyRecord.objects.filter(key="k-3").exists()
