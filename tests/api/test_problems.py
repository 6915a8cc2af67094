"""Every answer under /api is a problem+json, even for a path no operation has (issue 10)."""

import pytest

from .conftest import API, assert_problem


@pytest.mark.parametrize("path", ["/vouchers/" + "9" * 5000, "/nope", "/members/1/nope/deeper"])
def test_unknown_api_paths_are_problem_404(reader, path):
    assert_problem(reader.get(path), 404, "not_found")


def test_unknown_paths_outside_v1_are_problem_404(client):
    assert_problem(client.post("/api/v2/members", {}), 404, "not_found")
    assert API == "/api/v1"
