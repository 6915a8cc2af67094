"""API keys and sessions: who is let in, and how the refusal reads."""

import json

import pytest
from django.test import Client
from django.utils import timezone
from tests.api.conftest import ApiClient, assert_problem
from tests.api.helpers import counts


class TestAuthentication:
    @pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz",
                                        "Bearer vk_1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
    def test_missing_or_invalid_key_is_401_with_www_authenticate(self, business, header):
        client = Client()
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        response = client.get("/api/v1/program", **extra)
        assert_problem(response, 401, "unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"

    def test_a_key_with_a_wrong_secret_or_revoked_is_401(self, business, read_key):
        wrong = read_key[:-4] + ("AAAA" if not read_key.endswith("AAAA") else "BBBB")
        assert_problem(ApiClient(wrong).get("/program"), 401, "unauthorized")
        from vafa.access.models import ApiKey

        ApiKey.objects.filter(business=business).update(revoked_at=timezone.now())
        response = ApiClient(read_key).get("/program")
        assert_problem(response, 401, "unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"

    def test_a_post_without_key_is_401_and_writes_nothing(self, business):
        before = counts()
        response = ApiClient().post("/members", {"mobile": "09121112233"})
        assert_problem(response, 401, "unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"
        assert counts() == before

    @pytest.mark.parametrize("header", [None, "Bearer nope"])
    def test_a_post_without_valid_key_from_a_real_client_is_401(self, business, header):
        client = Client(enforce_csrf_checks=True)
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        response = client.post("/api/v1/members", json.dumps({"mobile": "09121112233"}),
                               content_type="application/json", **extra)
        assert_problem(response, 401, "unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"
