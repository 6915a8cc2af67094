"""Errors a use case raises. Each has a stable code; the API and forms translate codes to fa/en text."""


class VafaError(Exception):
    status = 400
    code = "error"

    def __init__(self, detail: str = "", **params: object) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code
        self.params = params

    def describe(self, language: str) -> str | None:
        """The problem's `detail` in a reader's language when the error knows more than its code's text."""
        return None


class InvalidInput(VafaError):
    """Bad input: one or more fields with a code each. Nothing is written."""

    status = 422
    code = "invalid_input"

    def __init__(self, field: str | None = None, message: str | None = None, errors: list[dict] | None = None):
        self.errors = list(errors or [])
        if field is not None:
            self.errors.append({"field": field, "message": message or "invalid"})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)
        super().__init__(summary)


class NotFound(VafaError):
    status = 404
    code = "not_found"


class Conflict(VafaError):
    status = 409
    code = "conflict"


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


class RestrictedCredit(InsufficientBalance):
    """The member holds enough credit, but its restrictions (categories, branches) do not cover this spend."""

    code = "restricted_credit"


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class AlreadyDone(Conflict):
    code = "already_done"
