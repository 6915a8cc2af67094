"""A member's balances: the use cases and jobs that take the member's lock (members.services.lock_member),
read the program where they need it, and write through the ledger's primitives (ledger.services). They live here,
above the ledger, so that the ledger imports nothing from members or program (docs/architecture.md, Layers).
Each job is idempotent: a lot is released or expired at most once, a birthday gift granted once a year."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TypedDict, cast
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.calendar import birth_month, year_start
from vafa.core.errors import Conflict, InsufficientBalance, InvalidInput
from vafa.core.idempotency import Batches
from vafa.core.reasons import Reason
from vafa.core.sql import WritePlan, read_all
from vafa.core.usecase import run_use_case, write_last
from vafa.core.validation import MAX_BALANCE, amount_problem, check_amount
from vafa.ledger import services as ledger
from vafa.ledger.models import Account, Entry, Lot
from vafa.ledger.selectors import load_parts, loaded_balances
from vafa.members.locks import lock_members, lock_statement, member_of
from vafa.members.models import Member
from vafa.outbox.services import batched, emit, into_plan
from vafa.program import cache
from vafa.program.engine import convert_points, current_rate
from vafa.program.selectors import active_program
from vafa.tenancy.models import Branch, Business

MEMBERS_PER_TRANSACTION = 50  # of a gift-credit grant: about 0.1 s a batch on SQLite (docs/reliability.md)
SETTLE_MEMBERS_PER_TRANSACTION = 200  # of the write-down jobs: their locks held a few tens of milliseconds


def _load(business, member_id: int, at: dt.datetime) -> tuple[Member, dict[str, dict[str, int]]]:
    """A balance use case's load, in one round trip (core.sql.read_all): the member's lock with the business's
    cache token (`member.cache_token`: the program, from program.cache), their accounts and the business's own
    (kept on the member for the ledger's writes), and their lots due by `at`. Answers the member and the
    balances as of `at`."""
    parts = load_parts(business.pk, member_id, at)
    # one statement of three parts, the accounts first: its moments then come as text on SQLite, as
    # loaded_balances reads them (a lone SELECT of the lots would have them parsed, without their time zone)
    load = " UNION ALL ".join(f"SELECT {i} AS part, {sql}" for i, (sql, _) in enumerate(parts))
    locked, rows = read_all([lock_statement(member_id, business.pk, token=True),
                             (load, [value for _, params in parts for value in params])])
    member = member_of(locked, token=True)
    own, business_side, due = ([tuple(row) for part, *row in rows if part == i] for i in range(3))
    ledger.keep_accounts(member, own, business_side)
    return member, loaded_balances(own, due, at)


def _moved(held: dict[str, dict[str, int]], *changes: tuple[str, int]) -> dict[str, dict[str, int]]:
    """The balances once the use case's (currency, change of available) are written."""
    after = {currency: dict(amounts) for currency, amounts in held.items()}
    for currency, change in changes:
        after[currency]["available"] += change
    return after


def _spendable(held: dict[str, dict[str, int]], currency: str, needed: int) -> None:
    """Refused before anything is written: what the loaded balances cannot cover (the ledger checks again)."""
    have = max(held[currency]["available"], 0)
    if needed > have:
        raise InsufficientBalance("insufficient_balance", currency=currency, needed=needed, available=have)


def _write_events(plan: WritePlan) -> None:
    """The use case's last write: its outbox events, with the audit row and the key's answer (write_last)."""
    into_plan(plan)
    write_last(plan)


def adjust(business, member_id: int, currency: str, amount: int, *, reason: Reason | str, actor: Actor = SYSTEM,
           idempotency_key: str | None = None) -> dict:
    """A manual credit (amount > 0) or debit (amount < 0) with a reason: a use case of its own. A debit never
    takes a balance below zero. Load → decide → write as a conversion (below)."""

    errors = []
    if currency not in ("points", "coins", "wallet", "gift_credit"):
        errors.append({"field": "currency", "message": "unknown_choice"})
    check_amount("amount", amount, errors, allow_zero=False, signed=True)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        errors.append({"field": "reason", "message": "required"})
    if errors:
        raise InvalidInput(errors=errors)

    def use_case() -> dict:
        now = timezone.now()
        with batched():
            member, held = _load(business, member_id, now)
            if amount > 0:
                document = cache.setup_of(business, member.cache_token).document
                days = document.settings.currency(currency).expiry_days
                entry = ledger.credit(member, currency, amount, kind=Entry.Kind.ADJUST, reason=reason.strip(),
                                      from_kind=Account.Kind.ADJUSTMENT, at=now, actor=actor, source="adjustment",
                                      expires_at=now + dt.timedelta(days=days) if days else None)
            else:
                _spendable(held, currency, -amount)
                entry = ledger.debit(member, currency, -amount, kind=Entry.Kind.ADJUST, reason=reason.strip(),
                                     to_kind=Account.Kind.ADJUSTMENT, at=now, actor=actor, source="adjustment")
            emit(business.pk, "balance.adjusted", {"member_id": member.pk, "currency": currency, "amount": amount,
                                                   "reason": reason.strip()})
            _write_events(WritePlan())
        return {"entry_id": entry.pk, "member_id": member.pk, "currency": currency, "amount": amount,
                "reason": entry.reason, "balance": _moved(held, (currency, amount))}

    result, replayed = run_use_case(business, "adjustment", {"member_id": member_id, "currency": currency,
                                                             "amount": amount, "reason": reason},
                                    use_case, actor=actor, key=idempotency_key, object_type="entry",
                                    object_id="entry_id")
    return result | {"replayed": replayed}


@dataclass(frozen=True)
class ConversionInput:
    """Points → wallet credit, as a channel asks for it (the API, the panel, the member portal)."""

    member_id: int
    points: int  # asked for: only whole steps of the rate are converted
    at: dt.datetime | None = None  # the moment (now): its rate, its balances


class ConversionResult(TypedDict):
    """A conversion's answer, as stored with the key and replayed (ConversionOut: its API shape)."""

    member_id: int
    points_converted: int
    wallet_credited: int
    rate: dict[str, int]  # {points, value}
    entries: list[int]  # the points' debit and the wallet's credit
    reason: str  # rendered in the business's language and calendar
    balance: dict[str, dict[str, int]]
    replayed: bool


def convert(business, order: ConversionInput, *, actor: Actor = SYSTEM,
            idempotency_key: str | None = None) -> ConversionResult:
    """Points → wallet credit at the loyalty table's rate of the day, in whole steps only (F19): asking for
    250 points at 100 → 10,000 converts 200 points into 20,000. Two entries of kind convert: the points go to
    the conversion account, the money comes from it.

    Load: the member's lock, accounts and due lots in one round trip (_load), the program from the cache.
    Decide: the rate, the whole steps, whether the points cover them, the balances after — in pure code.
    Write: the ledger's debit, then its credit (both at once: the answer holds their entries' ids), then one plan
    with the outbox event, the audit row and the key's answer (write_last)."""

    problem = amount_problem(order.points, allow_zero=False)
    if problem:
        raise InvalidInput("points", problem)

    def use_case() -> dict:
        now = order.at or timezone.now()
        with batched():
            member, held = _load(business, order.member_id, now)
            setup = cache.setup_of(business, member.cache_token)
            rate = current_rate(setup.document, now.astimezone(ZoneInfo(business.timezone)).date())
            if rate is None or rate.value == 0:
                raise InvalidInput("points", "no_loyalty_table_rate")
            used, value = convert_points(rate, order.points)
            if used == 0:
                raise InvalidInput("points", "less_than_one_step")
            _spendable(held, "points", used)
            reason = Reason("ledger.convert", {"points": used, "value": value, "money": business.currency})
            version, wallet_days = setup.version.version, setup.document.settings.currency("wallet").expiry_days
            out = ledger.debit(member, "points", used, kind=Entry.Kind.CONVERT, reason=reason,
                               to_kind=Account.Kind.CONVERSION, at=now, actor=actor, source="conversion",
                               program_version=version)
            into = ledger.credit(member, "wallet", value, kind=Entry.Kind.CONVERT, reason=reason,
                                 from_kind=Account.Kind.CONVERSION, at=now, actor=actor, source="conversion",
                                 program_version=version,
                                 expires_at=now + dt.timedelta(days=wallet_days) if wallet_days else None)
            emit(business.pk, "points.converted", {"member_id": member.pk, "points": used, "wallet": value})
            _write_events(WritePlan())
        return {"member_id": member.pk, "points_converted": used, "wallet_credited": value,
                "rate": {"points": rate.points, "value": rate.value}, "entries": [out.pk, into.pk],
                "reason": reason.render(business.language, business.calendar),
                "balance": _moved(held, ("points", -used), ("wallet", value))}

    result, replayed = run_use_case(business, "conversion", {"member_id": order.member_id, "points": order.points},
                                    use_case, actor=actor, key=idempotency_key, object_type="member",
                                    object_id="member_id")
    return cast(ConversionResult, result | {"replayed": replayed})


def convert_points_to_wallet(business, member_id: int, points: int, *, actor: Actor = SYSTEM,
                             idempotency_key: str | None = None, at: dt.datetime | None = None) -> ConversionResult:
    """convert() with its input as arguments (the channels' older form)."""
    return convert(business, ConversionInput(member_id, points, at), actor=actor, idempotency_key=idempotency_key)


def grant_gift_credit(business, *, amount: int, reason: Reason | str, member_ids: list[int] | None = None,
                      tier: str | None = None, expires_at: dt.datetime | None = None,
                      categories: list[str] | None = None, branches: list[str] | None = None,
                      occasion: str = "", actor: Actor = SYSTEM, idempotency_key: str | None = None) -> dict:
    """Gift credit (اعتبار هدیه, F28): a fixed amount with no purchase condition, to some members or to every
    member of a tier, each grant a lot with its own expiry and optional category and branch restrictions
    (birthdays, referrals, occasions, apologies)."""

    errors = []
    check_amount("amount", amount, errors, allow_zero=False)
    if not isinstance(reason, str) or not reason.strip():
        errors.append({"field": "reason", "message": "required"})
    if bool(member_ids) == bool(tier):
        errors.append({"field": "member_ids", "message": "give_members_or_tier"})
    if expires_at is not None and expires_at <= timezone.now():
        errors.append({"field": "expires_at", "message": "must_be_in_future"})
    known = set(Branch.objects.filter(business=business).values_list("code", flat=True))
    errors.extend({"field": "branches", "message": "unknown_branch"} for code in branches or [] if code not in known)
    if errors:
        raise InvalidInput(errors=errors)
    members = Member.objects.filter(business=business, status=Member.Status.ACTIVE)
    members = members.filter(pk__in=member_ids) if member_ids else members.filter(tier=tier)
    ids = list(members.order_by("pk").values_list("pk", flat=True))
    if member_ids and len(ids) != len(set(member_ids)):
        raise InvalidInput("member_ids", "member_not_found")
    restrictions = {k: v for k, v in (("categories", categories or []), ("branches", branches or [])) if v}

    full = Account.objects.filter(business=business, member_id__in=ids, currency="gift_credit",
                                  balance__gt=MAX_BALANCE - amount).exists()
    if full:  # checked before the first batch, so the batches cannot stop half-way on it
        raise Conflict("balance_limit", currency="gift_credit", limit=MAX_BALANCE)

    def use_case(batches: Batches) -> dict:
        now = timezone.now()
        # MEMBERS_PER_TRANSACTION members per transaction: a grant to 10,000 members never holds SQLite's write
        # lock for long. Each member's grant (entry, lot, event) is whole in its batch, and the batch's mark in
        # the key's record commits with it: a grant interrupted between batches resumes, with the same key,
        # after the last member granted, to exactly the intended total. Without a key there is nothing to resume
        # by: the grant is then one transaction, all or nothing.
        with transaction.atomic() if batches.record_pk is None else nullcontext():
            line = ledger.CreditLine("gift_credit", amount, reason.strip(), expires_at=expires_at,
                                     restrictions=restrictions)
            event = {"currency": "gift_credit", "amount": amount, "occasion": occasion, "reason": reason.strip(),
                     "expires_at": expires_at.isoformat() if expires_at else None}
            for start in range(batches.start, len(ids), MEMBERS_PER_TRANSACTION):
                with transaction.atomic():
                    batches.done(min(start + MEMBERS_PER_TRANSACTION, len(ids)))
                    members = lock_members(ids[start:start + MEMBERS_PER_TRANSACTION], business.pk)
                    _credit_each([(member, line, event) for member in members], at=now, actor=actor,
                                 source=f"grant:{occasion}" if occasion else "grant")
        return {"members": len(ids), "amount": amount, "total": amount * len(ids), "restrictions": restrictions,
                "expires_at": expires_at.isoformat() if expires_at else None}

    request = {"amount": amount, "reason": reason, "member_ids": sorted(ids), "tier": tier,
               "expires_at": expires_at.isoformat() if expires_at else None, "restrictions": restrictions,
               "occasion": occasion}
    result, replayed = run_use_case(business, "gift_credit.grant", request, use_case, actor=actor,
                                    key=idempotency_key, object_type="gift_credit", object_id="members",
                                    in_batches=True, resumable=True)
    return result | {"replayed": replayed}


def _credit_each(grants: list[tuple[Member, ledger.CreditLine, dict]], *, at: dt.datetime, actor: Actor,
                 source: str) -> None:
    """A batch of credits to members of one business, whose locks the caller holds, as one write plan (one round
    trip on PostgreSQL): the members' accounts read in one statement, then each member's entry, lot and balance
    (ledger.credit_many) and the outbox event (`credit.earned`, with the given payload) in the plan."""
    ledger.load_accounts_of([member for member, _, _ in grants])
    plan = WritePlan()
    with batched():
        for member, line, event in grants:
            ledger.credit_many(member, [line], at=at, actor=actor, source=source, plan=plan)
            emit(member.business_id, "credit.earned", {"member_id": member.pk} | event)
        into_plan(plan)
    plan.write()


def _settle_due(due, now: dt.datetime, *, release: bool, expire: bool) -> int:
    """Write down the `due` lots (a Lot query), a batch of members at a time: their locks, their due lots read
    again under them, and one bulk write per batch (ledger.services.settle_lots). A member whose lots another
    run has written down meanwhile is found with nothing due."""
    members = sorted(set(due.values_list("business_id", "member_id")))
    total = 0
    for start in range(0, len(members), SETTLE_MEMBERS_PER_TRANSACTION):
        batch: dict[int, list[int]] = defaultdict(list)
        for business_id, member_id in members[start:start + SETTLE_MEMBERS_PER_TRANSACTION]:
            batch[business_id].append(member_id)
        for business_id, member_ids in batch.items():
            with transaction.atomic(), batched():
                locked = lock_members(member_ids, business_id)
                total += ledger.settle_lots(locked, now, release=release, expire=expire)
    return total


def release_pending(now: dt.datetime | None = None) -> int:
    """Write down the pending amounts whose return window has passed: available since that minute for reads and
    spends already (ledger.services.settle_due_lots), the entries are dated then."""
    now = now or timezone.now()
    due = Lot.objects.filter(state=Lot.State.PENDING, available_at__lte=now)
    return _settle_due(due, now, release=True, expire=False)


def expire_lots(now: dt.datetime | None = None) -> int:
    """Write down the lots past their expiry: gone since that minute for reads and spends already
    (ledger.services.settle_due_lots), the entries are dated then."""
    now = now or timezone.now()
    due = Lot.objects.filter(state=Lot.State.OPEN, remaining__gt=0, expires_at__lte=now)
    return _settle_due(due, now, release=False, expire=True)


def grant_birthday_gifts(now: dt.datetime | None = None) -> int:
    """Gift credit for members whose birth month (in the business calendar) is this month, once per member
    and year, by the program's `birthday_gift` (amount per tier). Answers how many grants it made."""
    now = now or timezone.now()
    granted = 0
    for business in Business.objects.all():
        _, document = active_program(business)
        gift = document.birthday_gift
        if gift is None:
            continue
        today = now.astimezone(ZoneInfo(business.timezone)).date()
        year = year_start(today, business.calendar).isoformat()[:4]
        source = f"grant:birthday:{year}"  # one grant per member and (business-calendar) year
        month = birth_month(today, business.calendar)
        already = set(Entry.objects.filter(business=business, currency="gift_credit", source=source)
                      .values_list("member_id", flat=True))
        candidates = (Member.objects.filter(business=business, status=Member.Status.ACTIVE, birth_date__isnull=False)
                      .exclude(pk__in=already).only("pk", "birth_date", "tier", "business_id"))
        eligible = [(member.pk, amount) for member in candidates.iterator(chunk_size=2000)
                    if (amount := gift.amount_for(member.tier)) > 0
                    and birth_month(member.birth_date, business.calendar) == month]
        reason = Reason("localized", {"text": gift.reason})
        terms = {"expires_at": now + dt.timedelta(days=gift.expiry_days),
                 "restrictions": {"categories": gift.categories} if gift.categories else None}
        for start in range(0, len(eligible), MEMBERS_PER_TRANSACTION):
            amounts = dict(eligible[start:start + MEMBERS_PER_TRANSACTION])
            with transaction.atomic():  # a batch of members: their locks, then one write plan
                locked = lock_members(list(amounts), business.pk)
                done = set(Entry.objects.filter(business=business, member_id__in=list(amounts), source=source)
                           .values_list("member_id", flat=True))  # by another run meanwhile: read under the locks
                grants = [(member, ledger.CreditLine("gift_credit", amounts[member.pk], reason, **terms),
                           {"currency": "gift_credit", "amount": amounts[member.pk], "occasion": "birthday"})
                          for member in locked if member.pk not in done]
                _credit_each(grants, at=now, actor=SYSTEM, source=source)
                granted += len(grants)
    return granted
