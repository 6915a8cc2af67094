"""The member list's bounded reads at scale: a capped row count, filter choices by skipping through an index,
a name searched by its beginning on an index."""

from vafa.members.models import Member
from vafa.members.selectors import search_members
from vafa.panel import tables
from vafa.panel.selectors import distinct_values


def test_a_list_longer_than_the_cap_says_so(signed_in, make_member, monkeypatch):
    for _ in range(4):
        make_member()
    client = signed_in("owner")
    assert "۴ ردیف" in client.get("/panel/members/").content.decode()
    monkeypatch.setattr(tables, "COUNT_CAP", 3)
    html = client.get("/panel/members/").content.decode()
    assert "۳+ ردیف" in html
    paginator = tables.CappedPaginator(Member.objects.order_by("id"), 2)
    assert (paginator.count, paginator.capped, paginator.shown_count, paginator.num_pages) == (4, True, 3, 2)


def test_distinct_values_equal_the_scan(business, make_member):
    from vafa.tenancy.services import create_business

    for source, tier in (("instagram", "gold"), ("", "silver"), ("instagram", ""), ("friend", "gold")):
        Member.objects.filter(pk=make_member(join_source=source).pk).update(tier=tier)
    other = create_business(name="دیگری", slug="other")
    Member.objects.create(business=other, mobile="+989350000000", code="OTHER1", join_source="radio",
                          joined_at=business.created_at)
    for column in ("join_source", "tier"):
        scan = sorted(set(Member.objects.filter(business=business).exclude(**{column: ""})
                          .values_list(column, flat=True)))
        assert distinct_values(Member, business.pk, column) == scan
    assert distinct_values(Member, business.pk, "join_source") == ["friend", "instagram"]


def test_a_name_is_found_by_its_beginning(business, make_member):
    ali = make_member(first_name="علی", last_name="رضایی")
    reza = make_member(first_name="رضا", last_name="کریمی")
    latin = make_member(first_name="Sara", last_name="Smith")

    def found(q):
        return [m.pk for m in search_members(business, q)]

    assert found("رضا") == [ali.pk, reza.pk]
    assert found("کریم") == [reza.pk] and found("sara") == [latin.pk] and found("smi") == [latin.pk]
    assert found("یی") == []  # not by its middle: that would read every member


def test_the_branch_report_opens_on_the_last_30_days(signed_in, business, member, purchase_at):
    import datetime as dt

    from django.utils import timezone

    from vafa.purchases.services import record_purchase

    purchase_at(member, "t1", 100_000)
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="old", total=900_000,
                    occurred_at=timezone.now() - dt.timedelta(days=40))
    client = signed_in("owner")
    recent = client.get("/panel/reports/branches").content.decode()
    start = (timezone.now().astimezone(dt.timezone(dt.timedelta(hours=3, minutes=30))).date()
             - dt.timedelta(days=29))
    from vafa.core.calendar import format_date

    assert "۱۰۰٬۰۰۰" in recent and "۱٬۰۰۰٬۰۰۰" not in recent
    assert f'name="from" value="{format_date(start, "jalali", "en")}"' in recent  # the page says which period
    everything = client.get("/panel/reports/branches", {"from": "1400/01/01"}).content.decode()
    assert "۱٬۰۰۰٬۰۰۰" in everything
