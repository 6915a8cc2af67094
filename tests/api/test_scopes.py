"""Scopes: every write with too narrow a key is a 403 problem and writes nothing."""


import pytest
from tests.api.conftest import assert_problem
from tests.api.helpers import ENDPOINT_NAMES, _endpoints, counts, member_json, ok, purchase_body


class TestScopes:
    @pytest.mark.parametrize("index", range(len(ENDPOINT_NAMES)), ids=ENDPOINT_NAMES)
    def test_too_narrow_a_key_is_403_and_writes_nothing(self, index, business, member, purchase, api_client,
                                                        read_key, write_key):
        method, path, body, needed = _endpoints({"member_id": member.pk, "purchase_id": purchase.pk})[index]
        narrow = [read_key] if needed == "write" else [read_key, write_key]
        for key in narrow:
            before, member_before = counts(), member_json(member)
            response = getattr(api_client(key), method)(path, body)
            assert_problem(response, 403, "scope_too_narrow")
            assert response.json()["needed"] == needed
            assert counts() == before
            assert member_json(member) == member_before

    def test_reads_work_with_a_read_key(self, reader, member, purchase):
        for path in ("/program", "/members", f"/members/{member.pk}", f"/members/{member.pk}/balance",
                     f"/members/{member.pk}/ledger", "/purchases", f"/purchases/{purchase.pk}", "/business",
                     "/branches"):
            ok(reader.get(path))

    def test_a_read_key_may_simulate_and_dry_run(self, reader, member):
        before = counts()
        ok(reader.post("/program/simulate", {"member": {"member_id": member.pk}, "branch": "t1", "total": 100_000}))
        ok(reader.post("/purchases", purchase_body(member, dry_run=True)))
        assert counts() == before
