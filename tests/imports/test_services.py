"""Bulk import of members (with opening balances) and purchase history: balances and a clean ledger, re-imports
skipped, bad rows reported by line with nothing written, and the command line."""

import datetime as dt
import gc
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from tests.conftest import postgres_only

from vafa.core.errors import InvalidInput
from vafa.imports.services import ImportRejected, import_members, import_purchases
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Account, Entry, Lot, LotMovement
from vafa.ledger.selectors import balances
from vafa.members.models import Member
from vafa.program.selectors import active_program
from vafa.purchases.models import Purchase
from vafa.purchases.selectors import tier_metric
from vafa.purchases.services import record_purchase

TEHRAN = ZoneInfo("Asia/Tehran")

MEMBERS = """mobile,first_name,last_name,email,points,joined_at
09121110001,Sara,Ahmadi,sara@example.com,1200,2024-01-05
+989121110002,Reza,Karimi,,0,
۰۹۱۲۱۱۱۰۰۰۳,Mina,,,35,2024-03-01T10:00:00
"""

DAY = dt.date.today() - dt.timedelta(days=40)  # inside the tiers' 365-day window
PURCHASES = f"""receipt,mobile,branch,occurred_at,total
H-1,+989121110001,t1,{DAY},3000000
H-2,09121110001,v2,{DAY}T18:30:00+03:30,4000000
H-3,+989121110002,t1,{DAY},250000
"""


def rows_written() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Member, Account, Entry, Lot, LotMovement, Purchase)}


def test_members_get_opening_balances_and_the_ledger_stays_clean(business):
    result = import_members(business, MEMBERS.splitlines(keepends=True))
    assert (result.rows, result.created, result.skipped, result.opening_points) == (3, 3, 0, 1235)
    sara = Member.objects.get(business=business, mobile="+989121110001")
    assert (sara.first_name, sara.tier, sara.joined_at) == ("Sara", "bronze", dt.datetime(2024, 1, 5, tzinfo=TEHRAN))
    assert balances(sara)["points"] == {"available": 1200, "pending": 0}
    mina = Member.objects.get(business=business, mobile="+989121110003")
    assert balances(mina)["points"]["available"] == 35
    reza = Member.objects.get(business=business, mobile="+989121110002")
    assert balances(reza)["points"]["available"] == 0
    lot = Lot.objects.get(member=sara)
    assert (lot.state, lot.remaining, lot.expires_at is not None) == ("open", 1200, True)  # points expire in 365 days
    entry = Entry.objects.get(member=sara)
    assert (entry.kind, entry.amount, entry.source, entry.debit.code) == ("adjust", 1200, "import", "b:points:adjustment")
    assert len({m.code for m in Member.objects.all()}) == 3
    assert check_ledger() == []


def test_imported_members_spend_and_earn_like_any_member(business):
    import_members(business, MEMBERS.splitlines(keepends=True))
    sara = Member.objects.get(mobile="+989121110001")
    body = record_purchase(business, member_id=sara.pk, branch_code="t1", receipt="N-1", total=300_000,
                           redeem_points=100)
    assert body["balance"]["points"]["available"] == 1200 - 100 + 20  # 290,000 left to pay earns 2 × 10
    assert check_ledger() == []


def test_re_import_skips_members_and_receipts_already_there(business):
    import_members(business, MEMBERS.splitlines(keepends=True))
    import_purchases(business, PURCHASES.splitlines(keepends=True))
    before = rows_written()
    again = import_members(business, MEMBERS.splitlines(keepends=True))
    assert (again.created, again.skipped, again.opening_points) == (0, 3, 0)
    more = import_purchases(business, (PURCHASES + "H-4,+989121110003,t1,2025-03-02,100\n").splitlines(keepends=True))
    assert (more.rows, more.created, more.skipped) == (4, 1, 3)
    assert rows_written() == before | {"Purchase": 4}
    assert check_ledger() == []


def test_purchases_count_for_tiers_but_earn_nothing(business):
    import_members(business, MEMBERS.splitlines(keepends=True))
    result = import_purchases(business, PURCHASES.splitlines(keepends=True))
    assert (result.created, result.skipped) == (3, 0)
    sara = Member.objects.get(mobile="+989121110001")
    purchase = Purchase.objects.get(receipt="H-2")
    assert (purchase.branch.code, purchase.total, purchase.spend, purchase.earning_base, purchase.channel) == (
        "v2", 4_000_000, 4_000_000, 0, "import")
    assert purchase.occurred_at == dt.datetime(DAY.year, DAY.month, DAY.day, 15, 0, tzinfo=dt.UTC)
    assert not Entry.objects.filter(purchase__isnull=False).exists()
    _, document = active_program(business)
    assert tier_metric(sara, document, timezone.now()) == 7_000_000
    # The next real purchase sees the history: 7,000,000 + 300,000 spend passes silver's 5,000,000.
    body = record_purchase(business, member_id=sara.pk, branch_code="t1", receipt="N-1", total=300_000)
    assert body["tier"] == "silver"
    # A replay of an imported receipt through the API path is refused, not re-earned.
    with pytest.raises(Exception, match="receipt_exists"):
        record_purchase(business, member_id=sara.pk, branch_code="t1", receipt="H-1", total=1)


def test_bad_member_rows_are_reported_by_line_and_nothing_is_written(business):
    before = rows_written()
    bad = ("mobile,first_name,points,joined_at\n"
           "09121110001,Ok,10,\n"
           "not-a-phone,X,1,\n"
           "09121110004,Y,-5,\n"
           "09121110005,Z,1,2999-01-01\n"
           "+989121110001,Again,0,\n")
    with pytest.raises(ImportRejected) as caught:
        import_members(business, bad.splitlines(keepends=True))
    assert [str(p) for p in caught.value.result.problems] == [
        "line 3: mobile: not_a_phone", "line 4: points: must_be_whole_non_negative",
        "line 5: joined_at: bad_or_future_date", "line 6: mobile: repeated_from_line_2"]
    assert rows_written() == before


def test_bad_purchase_rows_are_reported_by_line_and_nothing_is_written(business, monkeypatch):
    import_members(business, MEMBERS.splitlines(keepends=True))
    monkeypatch.setattr("vafa.imports.services.BATCH", 1)  # the first rows are written before the bad ones
    before = rows_written()
    bad = PURCHASES + ("H-9,+989129999999,t1,2025-01-01,1\n"
                       "H-10,+989121110001,nowhere,2025-01-01,12.50\n"
                       "H-1,+989121110001,t1,2025-01-01,1\n")
    with pytest.raises(ImportRejected) as caught:
        import_purchases(business, bad.splitlines(keepends=True))
    assert [str(p) for p in caught.value.result.problems] == [
        "line 5: mobile: member_not_found", "line 6: branch: unknown_branch",
        "line 6: total: must_be_whole_non_negative", "line 7: receipt: repeated_in_file"]
    assert rows_written() == before


def test_unknown_and_missing_columns(business):
    with pytest.raises(InvalidInput) as caught:
        import_purchases(business, ["receipt,mobile,total,colour\n"])
    assert {(e["field"], e["message"]) for e in caught.value.errors} == {
        ("branch", "missing_column"), ("occurred_at", "missing_column"), ("colour", "unknown_column")}


def test_the_command(business, tmp_path, capsys):
    members, purchases = tmp_path / "members.csv", tmp_path / "purchases.csv"
    members.write_text(MEMBERS, encoding="utf-8")
    purchases.write_text(PURCHASES, encoding="utf-8")
    call_command("import", "members", str(members), "--business", "cafe")
    call_command("import", "purchases", str(purchases), "--business", "cafe")
    out = capsys.readouterr().out
    assert "imported 3 members, skipped 0 already in Vafa, opening points 1235" in out
    assert "imported 3 purchases, skipped 0" in out
    purchases.write_text(PURCHASES + "H-9,+989129999999,t1,2025-01-01,1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="1 bad rows of 4; nothing imported"):
        call_command("import", "purchases", str(purchases), "--business", "cafe")
    assert "line 5: mobile: member_not_found" in capsys.readouterr().err


@postgres_only
def test_an_import_leaves_fresh_planner_statistics(business):
    """Without them PostgreSQL plans with the row counts from before the import (docs/benchmarks.md)."""
    from django.db import connection

    import_members(business, MEMBERS.splitlines(True))
    import_purchases(business, PURCHASES.splitlines(True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relname IN "
                       "('members_member', 'purchases_purchase', 'ledger_entry')")
        estimated = dict(cursor.fetchall())
    assert estimated == {"members_member": 3, "purchases_purchase": 3, "ledger_entry": 2}


def test_amounts_are_checked_like_every_other_amount(business):
    before = rows_written()
    bad = ("mobile,first_name,points,joined_at\n"
           "09121110001,Ok,10,\n"
           f"09121110002,Huge,{10**30},\n"
           "09121110003,Super,²,\n"
           f"09121110004,Long,{'9' * 5000},\n"
           "09121110005,Persian,۱۲,\n")
    with pytest.raises(ImportRejected) as caught:
        import_members(business, bad.splitlines(keepends=True))
    assert [str(p) for p in caught.value.result.problems] == [
        "line 3: points: too_large", "line 4: points: must_be_whole_non_negative", "line 5: points: too_large"]
    assert rows_written() == before


def test_a_purchase_total_past_the_largest_amount_names_its_line(business):
    import_members(business, MEMBERS.splitlines(keepends=True))
    bad = f"receipt,mobile,branch,occurred_at,total\nH-1,+989121110001,t1,2025-01-01,{10**16}\n"
    with pytest.raises(ImportRejected) as caught:
        import_purchases(business, bad.splitlines(keepends=True))
    assert [str(p) for p in caught.value.result.problems] == ["line 2: total: too_large"]


def test_memory_does_not_grow_with_the_file(business, monkeypatch):
    """The importer streams: five times the rows take about the same peak memory (the receipts of the file are
    not held to find repeats; members are looked up a batch at a time)."""
    import tracemalloc

    monkeypatch.setattr("vafa.imports.services.BATCH", 1000)
    mobiles = [f"+98912{n:07d}" for n in range(1, 501)]
    import_members(business, ["mobile\n", *(f"{m}\n" for m in mobiles)])

    def peak(rows: int, prefix: str) -> int:
        lines = ("receipt,mobile,branch,occurred_at,total\n",
                 *(f"{prefix}{n},{mobiles[n % 500]},t1,{DAY},{1000 + n}\n" for n in range(rows)))
        tracemalloc.start()
        try:
            assert import_purchases(business, iter(lines)).created == rows
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(4_000, "A"), peak(20_000, "B")
    assert large < small * 1.3, (small, large)


def test_a_receipt_already_in_vafa_and_repeated_in_the_file_is_a_repeat(business, monkeypatch):
    """Across batches too: the first line is skipped (already in Vafa), the second repeats it."""
    import_members(business, MEMBERS.splitlines(keepends=True))
    import_purchases(business, PURCHASES.splitlines(keepends=True))
    monkeypatch.setattr("vafa.imports.services.BATCH", 1)
    before = rows_written()
    again = PURCHASES + "H-4,+989121110003,t1,2025-03-02,100\nH-1,+989121110001,t1,2025-01-01,1\n"
    with pytest.raises(ImportRejected) as caught:
        import_purchases(business, again.splitlines(keepends=True))
    assert [str(p) for p in caught.value.result.problems] == ["line 6: receipt: repeated_in_file"]
    assert rows_written() == before


def test_the_command_reads_an_excel_workbook_row_by_row(business, tmp_path, capsys):
    import openpyxl

    def workbook(name: str, text: str):
        book = openpyxl.Workbook()
        for row in text.splitlines():
            book.active.append(row.split(","))
        book.save(tmp_path / name)
        return str(tmp_path / name)

    call_command("import", "members", workbook("members.xlsx", MEMBERS), "--business", "cafe")
    call_command("import", "purchases", workbook("purchases.xlsx", PURCHASES), "--business", "cafe")
    assert "imported 3 purchases, skipped 0" in capsys.readouterr().out
    bad = workbook("bad.xlsx", PURCHASES + "H-9,+989129999999,t1,2025-01-01,1")
    with pytest.raises(CommandError, match="1 bad rows of 4; nothing imported"):
        call_command("import", "purchases", bad, "--business", "cafe")
    assert "line 5: mobile: member_not_found" in capsys.readouterr().err


# --- members stream ---------------------------------------------------------------------------------------


def test_members_stream_across_batches_and_their_codes_stay_unique(business, monkeypatch):
    monkeypatch.setattr("vafa.imports.services.BATCH", 7)
    lines = ["mobile,points\n", *(f"+98912{n:07d},{n % 3}\n" for n in range(1, 51))]
    result = import_members(business, lines)
    assert (result.rows, result.created, result.skipped, result.opening_points) == (50, 50, 0, 51)
    assert len(set(Member.objects.filter(business=business).values_list("code", flat=True))) == 50
    assert check_ledger() == []


def test_a_bad_row_near_the_end_of_a_long_file_writes_nothing(business, monkeypatch):
    monkeypatch.setattr("vafa.imports.services.BATCH", 10)
    before = rows_written()
    lines = ["mobile,points\n", *(f"+98912{n:07d},5\n" for n in range(1, 60)), "+989120000060,five\n"]
    with pytest.raises(ImportRejected) as caught:
        import_members(business, lines)
    assert [str(p) for p in caught.value.result.problems] == ["line 61: points: must_be_whole_non_negative"]
    assert rows_written() == before


def test_member_repeats_are_found_across_batches_and_against_the_members_already_there(business, monkeypatch):
    """The first good line of a mobile is the one every later line repeats: written in an earlier batch, or
    skipped there as already a member; a line bad for another reason is no first line."""
    import_members(business, MEMBERS.splitlines(keepends=True))
    monkeypatch.setattr("vafa.imports.services.BATCH", 2)
    before = rows_written()
    lines = ["mobile,email\n",
             "09121110001,\n",  # line 2: already a member (skipped)
             "09121110009,bad\n",  # line 3: a bad email, so not the mobile's first line
             "09121110009,\n",  # line 4: the mobile's first good line (a new member)
             "09121110005,\n",  # line 5
             "+989121110001,\n",  # line 6: repeats line 2, two batches later
             "09121110009,\n",  # line 7: repeats line 4
             "09121110005,\n"]  # line 8: repeats line 5, in the next batch
    with pytest.raises(ImportRejected) as caught:
        import_members(business, lines)
    assert [str(p) for p in caught.value.result.problems] == [
        "line 3: email: not_an_email", "line 6: mobile: repeated_from_line_2",
        "line 7: mobile: repeated_from_line_4", "line 8: mobile: repeated_from_line_5"]
    assert rows_written() == before


def test_member_import_memory_does_not_grow_with_the_file(business, monkeypatch):
    """Neither the file's mobiles nor the business's members and codes are held in memory."""
    import tracemalloc

    monkeypatch.setattr("vafa.imports.services.BATCH", 1000)

    def peak(rows: int, first: int) -> int:
        lines = iter(["mobile,first_name,points\n",
                      *(f"+98912{n:07d},M{n},{n % 50}\n" for n in range(first, first + rows))])
        gc.collect()  # what earlier tests left for the collector is not this import's
        tracemalloc.start()
        try:
            assert import_members(business, lines).created == rows
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(4_000, 1), peak(20_000, 100_000)
    # a file five times longer: memory that grew with it (even 100 bytes a row) would take the ratio near 2
    assert large < small * 1.5, (small, large)
