"""Exact integer arithmetic shared by the engine and the ledger: rounding and fair splitting."""

from fractions import Fraction
from typing import Literal

Rounding = Literal["floor", "half_up", "ceil"]


def round_fraction(value: Fraction, mode: Rounding = "floor") -> int:
    if mode == "floor":
        return value.numerator // value.denominator
    if mode == "ceil":
        return -((-value.numerator) // value.denominator)
    # half_up: away from zero at exactly one half
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    return sign * ((magnitude.numerator * 2 + magnitude.denominator) // (magnitude.denominator * 2))


def apportion(total: int, weights: list[int]) -> list[int]:
    """Split an integer total in proportion to weights; the parts add up to total exactly
    (largest remainder, ties to the earlier part)."""
    if len(weights) <= 1:  # the engine's most common case: one line (or none) takes it all
        return [total] if weights else []
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [total] + [0] * (len(weights) - 1)
    # Integers only: every share's fraction has the denominator weight_sum, so remainders order them.
    split = [divmod(total * w, weight_sum) for w in weights]
    parts = [part for part, _ in split]
    remainders = [remainder for _, remainder in split]
    left = total - sum(parts)
    sign = 1 if weight_sum > 0 else -1  # a remainder takes the divisor's sign
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i] * sign, i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def cumulative_share(amount: int, done: int, part: int, whole: int) -> int:
    """How much of `amount` falls due when the share `done/whole` grows to `(done+part)/whole`.

    Computed on the cumulative share, so several partial steps add up to exactly `amount` when the whole is
    reached and nothing is counted twice (70 earned, half returned → 35; the other half → 35)."""
    if whole <= 0:
        return 0
    before = round_fraction(Fraction(amount * done, whole), "half_up")
    after = round_fraction(Fraction(amount * min(done + part, whole), whole), "half_up")
    return after - before
