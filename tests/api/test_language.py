"""The API answers in the caller's language: problem details and reasons in fa or en."""




from tests.api.conftest import ApiClient, assert_problem


class TestLanguage:
    def test_persian_by_default_and_for_fa(self, reader):
        for headers in (None, {"Accept-Language": "fa"}, {"Accept-Language": "fa-IR,fa;q=0.9"}):
            response = reader.get("/members/999999", headers=headers)
            body = assert_problem(response, 404, "member_not_found")
            assert body["title"] == "پیدا نشد"
            assert body["detail"] == "عضو پیدا نشد"
            assert response["Content-Language"] == "fa"

    def test_english_for_en(self, reader, writer):
        response = reader.get("/members/999999", headers={"Accept-Language": "en"})
        body = assert_problem(response, 404, "member_not_found")
        assert (body["title"], body["detail"]) == ("Not found", "Member not found")
        assert response["Content-Language"] == "en"
        response = writer.post("/members", {"mobile": "12"}, headers={"Accept-Language": "en-US,en;q=0.8"})
        body = assert_problem(response, 422, "invalid_input", fields=["mobile"])
        assert body["title"] == "The input is not valid"
        assert body["errors"][0]["message"] == "is not a valid phone number"

    def test_field_messages_in_persian(self, writer):
        body = assert_problem(writer.post("/members", {"mobile": "12"}), 422, "invalid_input", fields=["mobile"])
        assert body["title"] == "ورودی نامعتبر است"
        assert body["errors"][0]["message"] == "شماره تلفن معتبر نیست"

    def test_unauthorized_in_english(self, business):
        body = assert_problem(ApiClient().get("/program", headers={"Accept-Language": "en"}), 401)
        assert body["detail"] == "A valid key or login is needed"
