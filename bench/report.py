"""docs/benchmarks.md from one run's figures: the machine, the tables against the targets, the query profile,
then the analysis kept by hand in bench/analysis.md."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _row(what: str, key: str, f: dict, target: str = "") -> str:
    return f"| {what} | {_fmt(f.get(f'sqlite_{key}'))} | {_fmt(f.get(f'postgresql_{key}'))} | {target} |"


def _pair(what: str, first: str, second: str, f: dict, target: str = "") -> str:
    cells = [f"{_fmt(f.get(f'{db}_{first}'))} / {_fmt(f.get(f'{db}_{second}'))}" for db in ("sqlite", "postgresql")]
    return f"| {what} | {cells[0]} | {cells[1]} | {target} |"


def write(path: Path, f: dict, profiles: dict[str, Path]) -> None:
    m = f["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `bench/run` (see the README): do not edit the figures by hand; the analysis at the end comes",
        "from `bench/analysis.md`. Other people's test runs share this machine, so absolute figures are noisy; the",
        "ratio to pgbench, measured in the same run against the same PostgreSQL, is the robust one.",
        "",
        f"**Run:** `bench/run{' --quick' if f['mode'] == 'quick' else ''}` ({f['mode']}), {_fmt(f['total_s'])} s. "
        f"**Machine:** {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; {m['os']}; Python {m['python']}; "
        f"{m['postgresql']}; SQLite {m['sqlite']}.",
        "",
        "**Workload:** the CDNOW log (23,570 customers, 69,659 purchases, 1997–1998) from the `lifetimes` package,",
        "as a USD business (amounts in cents), replayed in time order against `bench/workload.py::PROGRAM`: 1 point",
        "per dollar, ×2 on the classical category (one purchase in five), bronze/silver/gold on 365-day spend",
        "(×1.25, ×1.5), 2% cashback to the wallet for gold capped at $50 a month, points expiring after 365 days",
        "with a 14-day return window. HTTP: `vafa serve` (granian) with "
        f"{f.get('postgresql_http_workers')} workers, {f.get('postgresql_http_clients')} concurrent clients in a "
        "second process on loopback: "
        + ("wrk's keep-alive connections on one thread (`bench/wrk/load.lua`)"
           if f.get("postgresql_http_generator") == "wrk" else
           "`bench/loadgen.py`'s Python threads (wrk could not be had)") + ".",
        "",
        "| Measure | SQLite | PostgreSQL | Target |",
        "|---|---|---|---|",
        f"| (1) Engine alone, evaluations/s ({_fmt(f['engine_evaluations'])} CDNOW purchases) "
        f"| {_fmt(f['engine_per_s'])} | (no database) | |",
        _row("(2) Service layer `record_purchase`, purchases/s", "service_per_s", f),
        _row("(2) … ms per purchase", "service_ms_per_purchase", f),
        _row("(2) … queries per purchase", "queries_per_purchase", f),
        _row("(3) HTTP `POST /purchases`, purchases/s", "http_purchase_per_s", f, "≥ 1,000/s on PostgreSQL"),
        _pair("(3) … p50 / p95 ms", "http_purchase_p50_ms", "http_purchase_p95_ms", f),
        _row("(3) … p99 ms", "http_purchase_p99_ms", f, "≤ 50 ms"),
        _row("(3) Balance read `GET /members/{id}/balance`, reads/s", "http_balance_per_s", f),
        _pair("(3) … p50 / p99 ms", "http_balance_p50_ms", "http_balance_p99_ms", f, "p99 ≤ 10 ms"),
        _row("(3) Voucher `POST /vouchers/validate`, validations/s", "http_validate_per_s", f),
        _pair("(3) … p50 / p99 ms", "http_validate_p50_ms", "http_validate_p99_ms", f, "p99 ≤ 20 ms"),
        f"| (4) pgbench minimal earn (insert + upsert, one transaction), tps | | {_fmt(f['pgbench_tps'])} | |",
        f"| (4) HTTP purchases ÷ pgbench | | {f['http_to_pgbench_ratio']:.4f} | ≥ 0.30 |",
        _row("(5) Bulk: members imported", "bulk_members", f, "1,000,000 (full run)"),
        _pair("(5) … import members: s / members/s", "import_members_s", "import_members_per_s", f),
        _row("(5) … purchases imported", "bulk_purchases", f, "10,000,000 (full run)"),
        _row("(5) … import purchases, purchases/s", "import_purchases_per_s", f, "≥ 20,000/s"),
        _pair("(5) … import peak RSS, MB (members / purchases)", "import_members_peak_rss_mb",
              "import_purchases_peak_rss_mb", f),
        _row("(5) `vafa ledger check` on all of it, s", "ledger_check_s", f),
        _row("(5) Member search by mobile (`GET /members?q=`), ms", "admin_search_by_mobile_ms", f, "≤ 50 ms"),
        _row("(5) Member by exact phone (`GET /members?phone=`), ms", "admin_find_by_phone_ms", f),
        _row("(5) Member history: purchases (`GET /purchases?member_id=`), ms", "admin_member_purchases_ms", f,
             "≤ 50 ms"),
        _row("(5) Member history: ledger (`GET /members/{id}/ledger`), ms", "admin_member_ledger_ms", f, "≤ 50 ms"),
        _row("(5) Dashboard totals, ms", "admin_dashboard_totals_ms", f),
        _row("(5) Tier distribution, ms", "admin_tier_distribution_ms", f),
        _row("(6) Peak RSS of a web worker (vafa serve) under load, MB", "worker_peak_rss_mb", f, "≤ 300 MB"),
        "",
    ]
    errors = {k: v for k, v in f.items() if k.endswith("_errors") and v}
    if errors:
        lines += [f"HTTP errors during the run: {errors}.", ""]
    lines += ["## Queries per purchase, by kind", "",
              "Captured over 100 replayed CDNOW purchases through `record_purchase` (statement and table).", "",
              "| Query | SQLite | PostgreSQL |", "|---|---|---|"]
    kinds = dict(f.get("sqlite_queries_by_kind") or {})
    pg_kinds = f.get("postgresql_queries_by_kind") or {}
    for kind in list(kinds) + [k for k in pg_kinds if k not in kinds]:
        lines.append(f"| `{kind}` | {_fmt(kinds.get(kind))} | {_fmt(pg_kinds.get(kind))} |")
    profile = profiles.get("postgresql")
    if profile and profile.exists():
        text = profile.read_text().splitlines()
        lines += ["", "## Profile of the hot path (pyinstrument, 100 purchases, PostgreSQL)", "", "```",
                  *text[:60], "```"]
    lines += ["", (HERE / "analysis.md").read_text().rstrip(), ""]
    path.write_text("\n".join(lines))
