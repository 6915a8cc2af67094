"""Idempotent bulk writes: the key is claimed before the batches, a duplicate meanwhile is told to wait, a
failure gives the key back (issue 10)."""

import pytest

from vafa.core.errors import Conflict
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
