"""The one check every amount goes through: an integer (never a float, a string or a bool), in range."""

MAX_AMOUNT = 10**15  # far above any real basket, far below 64-bit overflow
# The most one member account may hold (ledger.services.credit refuses more): ten of the largest amounts. A
# member's entries then never come near 64-bit overflow (about 9.2 × 10^18).
MAX_BALANCE = 10 * MAX_AMOUNT


def amount_problem(value, *, allow_zero: bool = True, signed: bool = False) -> str | None:
    """The message code for a bad amount, or None when it is fine."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "must_be_integer"
    if abs(value) > MAX_AMOUNT:
        return "too_large"
    if value == 0 and not allow_zero:
        return "must_not_be_zero" if signed else "must_be_positive"
    if value < 0 and not signed:
        return "must_not_be_negative" if allow_zero else "must_be_positive"
    return None


def check_amount(name: str, value, errors: list[dict], **rules) -> None:
    problem = amount_problem(value, **rules)
    if problem:
        errors.append({"field": name, "message": problem})
