"""Refuse, before any view runs, API requests whose path or query carries a NUL character: no database column
can store it (PostgreSQL refuses it outright), and no real identifier contains one. Request bodies are checked
by core.schemas.StrictSchema; Django's form fields refuse NUL themselves."""

from vafa.api.problems import problem


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            bad = [name for name, values in request.GET.lists() if "\x00" in name or any("\x00" in v for v in values)]
            if "\x00" in request.path:
                bad.append("path")
            if bad:
                return problem(request, 422, "invalid_input",
                               errors=[{"field": name.replace("\x00", ""), "message": "bad_text"} for name in bad])
        return self.get_response(request)
