"""The benchmark's workload: the CDNOW transaction log, the program it is replayed against, and a synthetic
generator with CDNOW's behaviour that scales to millions of members and purchases.

CDNOW is a USD shop, so the benchmark business is a USD business: amounts are cents (11.77 → 1177). Members
get Iranian mobile numbers (+98912…), the default phone region, derived from the customer id.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import os
import zlib
from dataclasses import dataclass

import numpy as np

START = dt.date(1997, 1, 1)

PROGRAM = {
    "name": {"fa": "باشگاه سی‌دی", "en": "CD club"},
    "settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": 14},
                                "wallet": {"expiry_days": 90}}},
    "rules": [
        {"id": "base", "kind": "earn", "per": 100, "award": 1},  # 1 point per dollar
        {"id": "classical-x2", "kind": "multiplier", "factor": 2, "applies_to": ["base"],
         "when": {"categories": ["classical"]}},
        {"id": "gold-cashback", "kind": "cashback", "percent": "2", "currency": "wallet",
         "when": {"tiers": ["gold"]}, "cap": {"per_member": 5000, "period": "month"}},
    ],
    "tiers": {"basis": "spend", "window_days": 365, "levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 10_000, "multiplier": "1.25"},
        {"code": "gold", "name": "Gold", "threshold": 50_000, "multiplier": "1.5"},
    ]},
    "loyalty_table": {"rates": [{"points": 100, "value": 100}]},
}


@dataclass(frozen=True)
class Sale:
    customer: int
    day: dt.date
    quantity: int
    cents: int

    @property
    def category(self) -> str:
        """About one purchase in five is classical (doubled points); deterministic, CDNOW has no genres."""
        return "classical" if zlib.crc32(f"{self.customer}:{self.day}:{self.cents}".encode()) % 5 == 0 else "pop"


def cdnow_path() -> str:
    """The log inside the installed `lifetimes` package (found without importing it: pandas is not needed)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the CDNOW log needs the lifetimes package: pip install -e '.[bench]'")
    return os.path.join(spec.submodule_search_locations[0], "datasets", "CDNOW_master.txt")


def _cents(text: str) -> int:
    dollars, _, cents = text.partition(".")
    return int(dollars) * 100 + int((cents + "00")[:2])


def cdnow() -> list[Sale]:
    """Every purchase of the log, in time order (customer id within a day)."""
    sales = []
    with open(cdnow_path()) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) != 4 or not parts[0].isdigit():
                continue
            day = dt.date(int(parts[1][:4]), int(parts[1][4:6]), int(parts[1][6:]))
            sales.append(Sale(int(parts[0]), day, max(int(parts[2]), 1), _cents(parts[3])))
    sales.sort(key=lambda s: (s.day, s.customer))
    return sales


def mobile(customer: int) -> str:
    return f"+98912{customer:07d}"


def members_csv(path: str, customers: list[int], points: dict[int, int] | None = None) -> None:
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["mobile", "first_name", "last_name", "points"])
        for c in customers:
            out.writerow([mobile(c), f"Customer{c}", "CDNOW", (points or {}).get(c, 0)])


# --- the synthetic generator ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """CDNOW's behaviour: purchases per customer, days between a customer's purchases (empirical
    distributions) and the purchase amount (log-normal, fitted)."""

    counts: np.ndarray
    gaps: np.ndarray
    log_mean: float
    log_sigma: float
    span_days: int


def fit(sales: list[Sale]) -> Fit:
    by_customer: dict[int, list[Sale]] = {}
    for s in sales:
        by_customer.setdefault(s.customer, []).append(s)
    counts = np.array([len(v) for v in by_customer.values()])
    gaps = np.array([(b.day - a.day).days for v in by_customer.values() for a, b in zip(v, v[1:], strict=False)
                     if b.day > a.day])
    amounts = np.log(np.array([s.cents for s in sales if s.cents > 0], dtype=float))
    span = (max(s.day for s in sales) - min(s.day for s in sales)).days
    return Fit(counts, gaps, float(amounts.mean()), float(amounts.std()), span)


def synthetic(fitted: Fit, members: int, purchases: int, members_path: str, purchases_path: str,
              end: dt.date, seed: int = 5, branch: str = "main", span_days: int | None = None,
              join_days: int = 90) -> int:
    """Write members.csv and purchases.csv for `members` members and about `purchases` purchases. Each member's
    number of purchases follows CDNOW's distribution scaled to the wanted mean, the first purchase (and the
    member's joining day) falls in the first `join_days` (CDNOW's cohort joined in 1997 Q1: 90; a shop in its
    steady state: the whole span), the gaps are CDNOW's and the amounts its fitted log-normal; everything falls
    in the `span_days` (CDNOW's 18 months by default) before `end`. Answers how many purchases were written."""
    span = span_days or fitted.span_days
    rng = np.random.default_rng(seed)
    scale = purchases / members / fitted.counts.mean()
    # more purchases per member than CDNOW's in the same 18 months: the gaps shrink in proportion, or most of
    # the extra purchases would fall after the end and be dropped
    gap_scale = max(scale, 1.0)
    start = end - dt.timedelta(days=span)
    written = 0
    with open(members_path, "w", newline="") as m_handle, open(purchases_path, "w", newline="") as p_handle:
        m_out, p_out = csv.writer(m_handle), csv.writer(p_handle)
        m_out.writerow(["mobile", "first_name", "last_name", "points", "joined_at"])
        p_out.writerow(["receipt", "mobile", "branch", "occurred_at", "total"])
        chunk = 100_000
        for first in range(0, members, chunk):
            ids = np.arange(first, min(first + chunk, members))
            n = np.maximum(1, rng.poisson(rng.choice(fitted.counts, len(ids)) * scale))
            opening = np.where(rng.random(len(ids)) < 0.3, rng.integers(1, 2000, len(ids)), 0)
            starts = rng.integers(0, min(join_days, span), len(ids))
            m_out.writerows([mobile(i + 1), f"M{i + 1}", "Synthetic", int(p),
                             (start + dt.timedelta(days=int(d))).isoformat()]
                            for i, p, d in zip(ids, opening, starts, strict=True))
            total = int(n.sum())
            gaps = rng.choice(fitted.gaps, total)
            amounts = np.maximum(0, np.rint(np.exp(rng.normal(fitted.log_mean, fitted.log_sigma, total)))).astype(int)
            rows = []
            k = 0
            for i, count, day0 in zip(ids, n, starts, strict=True):
                day = int(day0)
                for j in range(int(count)):
                    if j:
                        day += int(gaps[k] / gap_scale)
                    if day >= span:
                        k += count - j
                        break
                    rows.append((f"S{i + 1}-{j + 1}", mobile(int(i) + 1), branch,
                                 (start + dt.timedelta(days=day)).isoformat(), int(amounts[k])))
                    k += 1
            p_out.writerows(rows)
            written += len(rows)
    return written
