"""Discount codes: define them, make codes (generated or imported), validate a code against a basket, hold a
use for an online checkout, redeem codes inside a purchase's transaction and roll them back on a return or
cancellation.

The purchases app calls `redeem_codes_for_purchase` and `rollback_for_purchase` inside its own transaction;
everything else here is a use case of its own (one transaction each)."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import secrets
import zipfile
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from vafa.core import throttle
from vafa.core.errors import AlreadyDone, Conflict, InvalidInput, VafaError
from vafa.core.validation import MAX_AMOUNT
from vafa.program import cache
from vafa.program.engine import member_promotions
from vafa.program.selectors import context_of
from vafa.tenancy.models import Branch
from vafa.vouchers import sql as vouchers_sql
from vafa.vouchers.models import Redemption, Reservation, VoucherCode, VoucherDefinition
from vafa.vouchers.pricing import HARMLESS, KINDS, TEXTS, Applied, Basket, VoucherTerms, apply_codes

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: nothing to misread
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,39}$")
PREFIX_PATTERN = re.compile(r"^[A-Z0-9_-]{0,16}$")

MAX_COUNT = 100_000  # codes per generation or import
CODES_PER_TRANSACTION = 2_000  # a batch commits in a few tens of milliseconds on SQLite
MAX_LIST = 200  # entries in a condition list
GUESS_LIMIT = 10  # lookups of codes that do not exist …
GUESS_WINDOW = 600  # … per this many seconds, per caller (API key or operator) and per member
# Input errors that mean "no such code": these, and only these, are guesses (a real code refused is not).
UNKNOWN_CODE_ERRORS = frozenset({"unknown_code", "unknown_gift_card"})

REASONS: dict[str, tuple[str, str]] = {
    "valid": ("کد معتبر است", "the code is valid"),
    "not_found": ("چنین کدی وجود ندارد", "there is no such code"),
    "inactive": ("این کد غیرفعال است", "this code is not active"),
    "not_started": ("اعتبار این کد از {starts_on} شروع می‌شود", "this code is valid from {starts_on}"),
    "expired": ("اعتبار این کد در {ends_on} تمام شده است", "this code expired on {ends_on}"),
    "wrong_branch": ("این کد در این شعبه پذیرفته نمی‌شود", "this code is not accepted at this branch"),
    "wrong_tier": ("این کد برای سطح عضویت شما نیست", "this code is not for this membership tier"),
    "used_up": ("دفعات استفاده از این کد تمام شده است", "this code has no uses left"),
    "reserved": ("آخرین استفاده از این کد موقتاً برای خرید دیگری نگه داشته شده است",
                 "the last use of this code is held for another checkout for now"),
    "member_limit_reached": ("شما به سقف استفاده از این کد رسیده‌اید", "this member has used this code the most "
                             "times allowed"),
}


class TooManyAttempts(VafaError):
    status = 429
    code = "too_many_attempts"


def refusal_text(reason: str, language: str, **params) -> str:
    """Why a code cannot be used, in Persian ("fa") or English: its own terms (REASONS) or the basket's
    (pricing.TEXTS), with their numbers and dates."""
    pair = REASONS.get(reason) or TEXTS.get(reason) or (reason, reason)
    return (pair[0] if language == "fa" else pair[1]).format(**params)


class VoucherRejected(Conflict):
    """A code entered on a purchase cannot be used; params: voucher (the code), reason (a reason code) and the
    reason's own numbers or dates (min_quantity, ends_on …)."""

    code = "voucher_rejected"

    @property
    def reason_params(self) -> dict:
        return {k: v for k, v in self.params.items() if k not in ("voucher", "reason")}

    def describe(self, language: str) -> str:
        return refusal_text(str(self.params.get("reason", "")), language, **self.reason_params)


@dataclass(frozen=True)
class Validation:
    valid: bool
    code: str
    discount: int
    reason: str  # "valid" or a reason code: not_found, expired, below_min_amount …
    message: str  # the reason in the language asked for
    applied: Applied | None = None


# --- definitions and codes -----------------------------------------------------------------------------------


def _int(name: str, value, errors: list[dict], *, minimum: int = 0, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append({"field": name, "message": "must_be_integer"})
    elif value < minimum:
        errors.append({"field": name, "message": "must_be_positive" if minimum > 0 else "must_not_be_negative"})
    elif value > MAX_AMOUNT:
        errors.append({"field": name, "message": "too_large"})


def _texts(name: str, value, errors: list[dict]) -> list[str]:
    if not isinstance(value, (list, tuple, set, frozenset)) or len(value) > MAX_LIST:
        errors.append({"field": name, "message": "must_be_list" if not isinstance(value, (list, tuple)) else "too_long"})
        return []
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item) > 64:
            errors.append({"field": name, "message": "bad_text"})
            return []
        out.append(item.strip())
    return sorted(set(out))


def _percent(value, errors: list[dict]) -> Decimal | None:
    try:
        number = Decimal(str(value)) if isinstance(value, (int, str, Decimal)) and not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        errors.append({"field": "percent", "message": "must_be_number"})
        return None
    if number <= 0 or number > 100:
        errors.append({"field": "percent", "message": "percent_out_of_range"})
        return None
    if number != number.quantize(Decimal("0.0001")):
        errors.append({"field": "percent", "message": "too_many_decimals"})
        return None
    return number.quantize(Decimal("0.0001"))


def create_definition(business, *, name: str, kind: str, percent=None, max_discount: int | None = None,
                      amount: int = 0, free_sku: str = "", free_quantity: int = 1, buy_n: int = 0, get_m: int = 0,
                      order_wide: bool = False, categories=(), skus=(), branches=(), tiers=(), min_amount: int = 0,
                      min_quantity: int = 0, starts_on: dt.date | None = None, ends_on: dt.date | None = None,
                      max_uses_total: int | None = None, max_uses_per_member: int | None = None,
                      active: bool = True) -> VoucherDefinition:
    """A voucher definition: what it gives and on what conditions. Bad input raises InvalidInput and writes
    nothing. Percent is a number of percent (12.5 or "12.5"), at most four decimals."""
    errors: list[dict] = []
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200:
        errors.append({"field": "name", "message": "required" if not name else "too_long"})
    if kind not in KINDS:
        errors.append({"field": "kind", "message": "unknown_choice"})
    clean_percent = None
    if kind == "percent":
        clean_percent = _percent(percent, errors)
        _int("max_discount", max_discount, errors, minimum=1, nullable=True)
    elif percent is not None or max_discount is not None:
        errors.append({"field": "percent" if percent is not None else "max_discount", "message": "only_for_percent"})
    if order_wide and kind != "percent":
        errors.append({"field": "order_wide", "message": "only_for_percent"})
    if kind == "fixed":
        _int("amount", amount, errors, minimum=1)
    elif amount:
        errors.append({"field": "amount", "message": "only_for_fixed"})
    if kind == "buy_n_get_m":
        _int("buy_n", buy_n, errors, minimum=1)
        _int("get_m", get_m, errors, minimum=1)
    if kind == "free_item":
        _int("free_quantity", free_quantity, errors, minimum=1)
    if not isinstance(free_sku, str) or len(free_sku) > 64:
        errors.append({"field": "free_sku", "message": "bad_text"})
    _int("min_amount", min_amount, errors)
    _int("min_quantity", min_quantity, errors)
    _int("max_uses_total", max_uses_total, errors, minimum=1, nullable=True)
    _int("max_uses_per_member", max_uses_per_member, errors, minimum=1, nullable=True)
    clean = {field: _texts(field, value, errors) for field, value in
             (("categories", categories), ("skus", skus), ("branches", branches), ("tiers", tiers))}
    known = set(Branch.objects.filter(business=business, code__in=clean["branches"]).values_list("code", flat=True))
    if set(clean["branches"]) - known:
        errors.append({"field": "branches", "message": "unknown_branch"})
    for field, value in (("starts_on", starts_on), ("ends_on", ends_on)):
        if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            errors.append({"field": field, "message": "not_a_date"})
    if isinstance(starts_on, dt.date) and isinstance(ends_on, dt.date) and ends_on < starts_on:
        errors.append({"field": "ends_on", "message": "ends_before_start"})
    if not isinstance(active, bool) or not isinstance(order_wide, bool):
        errors.append({"field": "active" if not isinstance(active, bool) else "order_wide",
                       "message": "must_be_boolean"})
    if errors:
        raise InvalidInput(errors=errors)
    return VoucherDefinition.objects.create(
        business=business, name=name, kind=kind, percent=clean_percent, max_discount=max_discount,
        amount=amount if kind == "fixed" else 0, free_sku=free_sku.strip() if kind == "free_item" else "",
        free_quantity=free_quantity if kind == "free_item" else 1, buy_n=buy_n if kind == "buy_n_get_m" else 0,
        get_m=get_m if kind == "buy_n_get_m" else 0, order_wide=order_wide, min_amount=min_amount,
        min_quantity=min_quantity, starts_on=starts_on, ends_on=ends_on, max_uses_total=max_uses_total,
        max_uses_per_member=max_uses_per_member, active=active, **clean)


def normalize_code(code) -> str:
    return code.strip().upper() if isinstance(code, str) else ""


def create_code(definition: VoucherDefinition, code: str, max_uses: int | None = None) -> VoucherCode:
    """A shared code: max_uses None for unlimited uses, or a limit."""
    errors: list[dict] = []
    clean = normalize_code(code)
    if not CODE_PATTERN.match(clean):
        errors.append({"field": "code", "message": "bad_code"})
    elif VoucherCode.objects.filter(business_id=definition.business_id, code=clean).exists():
        errors.append({"field": "code", "message": "code_taken"})
    _int("max_uses", max_uses, errors, minimum=1, nullable=True)
    if errors:
        raise InvalidInput(errors=errors)
    return VoucherCode.objects.create(business_id=definition.business_id, definition=definition, code=clean,
                                      max_uses=max_uses)


def _taken(business_id: int, codes: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(codes), 1000):
        taken |= set(VoucherCode.objects.filter(business_id=business_id, code__in=codes[start:start + 1000])
                     .values_list("code", flat=True))
    return taken


def generate_codes(definition: VoucherDefinition, count: int, length: int = 8, prefix: str = "",
                   max_uses: int | None = 1) -> list[str]:
    """`count` unique codes of `length` random characters from the unambiguous alphabet after `prefix`,
    single-use by default. Answers the codes made."""
    errors: list[dict] = []
    _int("count", count, errors, minimum=1)
    if not errors and count > MAX_COUNT:
        errors.append({"field": "count", "message": "too_large"})
    _int("length", length, errors, minimum=4)
    if not errors and length > 32:
        errors.append({"field": "length", "message": "too_large"})
    prefix = normalize_code(prefix)
    if not PREFIX_PATTERN.match(prefix):
        errors.append({"field": "prefix", "message": "bad_code"})
    _int("max_uses", max_uses, errors, minimum=1, nullable=True)
    if not errors and len(ALPHABET) ** length < count * 20:
        errors.append({"field": "count", "message": "too_many_for_length"})
    if errors:
        raise InvalidInput(errors=errors)
    made: set[str] = set()
    for _attempt in range(20):
        missing = count - len(made)
        if missing <= 0:
            break
        batch = {prefix + "".join(secrets.choice(ALPHABET) for _ in range(length)) for _ in range(missing)} - made
        made |= batch - _taken(definition.business_id, sorted(batch))
    if len(made) < count:
        raise InvalidInput("count", "too_many_for_length")
    codes = sorted(made)[:count]
    _insert_codes(definition, codes, max_uses)
    return codes


def _insert_codes(definition: VoucherDefinition, codes: list[str], max_uses: int | None) -> None:
    """Write checked codes CODES_PER_TRANSACTION at a time, each batch its own short transaction (outside a
    caller's transaction), so 100,000 codes never hold SQLite's write lock for long. Still all or nothing: a
    code taken by someone else between the check and its batch undoes the batches written, and is an error."""
    written: list[str] = []
    try:
        for start in range(0, len(codes), CODES_PER_TRANSACTION):
            batch = codes[start:start + CODES_PER_TRANSACTION]
            with transaction.atomic():
                VoucherCode.objects.bulk_create(
                    [VoucherCode(business_id=definition.business_id, definition=definition, code=code,
                                 max_uses=max_uses) for code in batch])
            written.extend(batch)
    except IntegrityError:
        for start in range(0, len(written), CODES_PER_TRANSACTION):
            with transaction.atomic():
                VoucherCode.objects.filter(business_id=definition.business_id, definition=definition,
                                           code__in=written[start:start + CODES_PER_TRANSACTION]).delete()
        raise InvalidInput("codes", "code_taken") from None


def _cells(data: bytes, name: str) -> list:
    if name.lower().endswith((".xlsx", ".xlsm")):
        # openpyxl is heavy, and only an uploaded .xlsx file needs it.
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
            raise InvalidInput("file", "not_a_spreadsheet") from None
        try:
            return [row[0] if row else None for row in workbook.active.iter_rows(max_col=1, values_only=True)]
        finally:
            workbook.close()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("file", "not_utf8") from None
    try:
        return [row[0] if row else None for row in csv.reader(io.StringIO(text))]
    except csv.Error:
        raise InvalidInput("file", "not_csv") from None


def import_codes(definition: VoucherDefinition, file: str | Path | BinaryIO, *, filename: str | None = None,
                 max_uses: int | None = 1) -> list[str]:
    """Codes from a CSV (UTF-8) or Excel (.xlsx) file: one code per row in the first column; a first row
    reading "code" (or "کد") is a header. All or nothing: any bad, repeated or taken code is an error."""
    if isinstance(file, (str, Path)):
        name = filename or str(file)
        data = Path(file).read_bytes()
    else:
        name = filename or getattr(file, "name", "") or ""
        data = file.read()
    errors: list[dict] = []
    _int("max_uses", max_uses, errors, minimum=1, nullable=True)
    if errors:
        raise InvalidInput(errors=errors)
    seen: dict[str, int] = {}
    for row, cell in enumerate(_cells(data, name), start=1):
        if isinstance(cell, float) and cell.is_integer():
            cell = int(cell)
        value = normalize_code(str(cell)) if cell is not None else ""
        if not value or (row == 1 and value in ("CODE", "کد")):
            continue
        if not CODE_PATTERN.match(value):
            errors.append({"field": f"file.row{row}", "message": "bad_code"})
        elif value in seen:
            errors.append({"field": f"file.row{row}", "message": "duplicate_code"})
        else:
            seen[value] = row
        if len(seen) > MAX_COUNT:
            raise InvalidInput("file", "too_large")
    for code in sorted(_taken(definition.business_id, list(seen)), key=seen.get):
        errors.append({"field": f"file.row{seen[code]}", "message": "code_taken"})
    if not seen and not errors:
        errors.append({"field": "file", "message": "empty_file"})
    if errors:
        raise InvalidInput(errors=errors[:50])
    _insert_codes(definition, list(seen), max_uses)
    return list(seen)


# --- validation -----------------------------------------------------------------------------------------------


def terms_of(code: VoucherCode) -> VoucherTerms:
    d = code.definition
    return VoucherTerms(
        code=code.code, kind=d.kind, percent=Fraction(d.percent) if d.percent is not None else Fraction(0),
        max_discount=d.max_discount, amount=d.amount, categories=frozenset(d.categories), skus=frozenset(d.skus),
        min_amount=d.min_amount, min_quantity=d.min_quantity, free_sku=d.free_sku, free_quantity=d.free_quantity,
        buy_n=d.buy_n, get_m=d.get_m, order_wide=d.order_wide)


def _language(business, language: str | None) -> str:
    return language or business.language or "fa"


def standing_terms(business, member, tier: str | None, at: dt.datetime, language: str) -> list[VoucherTerms]:
    """The member's standing order-wide percentages (tier and paid-plan discounts) as terms that compete with
    order-wide percentage codes."""
    plan = member.plan_at(at) if member is not None else None
    if not tier and not plan:
        return []
    # the process's copy, checked by the cache token the caller's business row carries
    document = cache.setup_of(business, business.cache_token).document
    ctx = replace(context_of(business), language=language)
    return [VoucherTerms.standing(p.rule_id, p.percent, p.label)
            for p in member_promotions(document, tier or None, plan, ctx)]


def _held_by_others(code: VoucherCode, member, tokens=()) -> int:
    held = Reservation.objects.filter(business_id=code.business_id, code=code, expires_at__gt=timezone.now())
    mine = Q(token__in=list(tokens))
    if member is not None:
        mine |= Q(member=member)
    return held.exclude(mine).count()


def _refusal(code: VoucherCode | None, member, branch_code: str | None, tier: str, day: dt.date,
             tokens=(), uses: vouchers_sql.Uses | None = None) -> tuple[str, dict] | None:
    """Why this code may not be used here and now (everything but the basket), or None. `uses`: the uses that
    limit it, read with the code (else read here, as a locked purchase must after its lock)."""
    if code is None:
        return "not_found", {}
    d = code.definition
    if code.status != VoucherCode.Status.ACTIVE or not d.active:
        return "inactive", {}
    if d.starts_on and day < d.starts_on:
        return "not_started", {"starts_on": d.starts_on.isoformat()}
    if d.ends_on and day > d.ends_on:
        return "expired", {"ends_on": d.ends_on.isoformat()}
    if d.branches and branch_code not in d.branches:
        return "wrong_branch", {}
    if d.tiers and (tier or "") not in d.tiers:
        return "wrong_tier", {}
    if d.max_uses_total is not None and d.used_count >= d.max_uses_total:
        return "used_up", {}
    if code.max_uses is not None:
        if code.used_count >= code.max_uses:
            return "used_up", {}
        held = uses.held_by_others if uses is not None else _held_by_others(code, member, tokens)
        if code.used_count + held >= code.max_uses:
            return "reserved", {}
    if member is not None and d.max_uses_per_member is not None:
        used = uses.member_uses if uses is not None else Redemption.objects.filter(
            business_id=code.business_id, definition=d, member=member, status=Redemption.Status.REDEEMED).count()
        if used >= d.max_uses_per_member:
            return "member_limit_reached", {}
    return None


def _local_day(business, at: dt.datetime) -> dt.date:
    return at.astimezone(ZoneInfo(business.timezone)).date()


def attempt_key_of(actor) -> str | None:
    """The caller whose guesses are counted: an API key or an operator (never the system itself)."""
    return f"{actor.kind}:{actor.id}" if actor is not None and actor.kind != "system" and actor.id else None


def _guess_subjects(attempt_key: str | None, member_id: int | None) -> list[str]:
    subjects = [f"voucher-guess:{attempt_key}"] if attempt_key else []
    if member_id is not None:
        subjects.append(f"voucher-guess:member:{member_id}")
    return subjects


def check_guess_budget(business, attempt_key: str | None, member_id: int | None) -> None:
    """Refuse (429) a caller or member who has looked up GUESS_LIMIT codes that do not exist in GUESS_WINDOW
    seconds. The counts are rows in the database (core.throttle), shared by every worker process."""
    subjects = _guess_subjects(attempt_key, member_id)
    if subjects and throttle.hits(business.pk, subjects, GUESS_WINDOW) >= GUESS_LIMIT:
        raise TooManyAttempts("too_many_attempts")


def _code_checking_guesses(business, clean: str, attempt_key: str | None,
                           member_id: int | None) -> vouchers_sql.Found | None:
    """The code with its definition and uses, and check_guess_budget, in one statement when the code exists (the
    count read beside it); a code that does not exist costs a second for the count."""
    subjects = _guess_subjects(attempt_key, member_id)
    hits = throttle.hits_query(business.pk, subjects, GUESS_WINDOW) if subjects else None
    found, guesses = (vouchers_sql.read_codes(business.pk, [clean], uses_of=(member_id, timezone.now()), beside=hits)
                      if clean else ({}, None))
    if not found:
        check_guess_budget(business, attempt_key, member_id)
    elif subjects and guesses >= GUESS_LIMIT:
        raise TooManyAttempts("too_many_attempts")
    return found.get(clean)


def count_unknown_code(business, attempt_key: str | None, member_id: int | None) -> None:
    """One lookup of a code that does not exist, for the caller and for the member. Call it outside (after) a
    use case that rolls back, or the count goes with it."""
    for subject in _guess_subjects(attempt_key, member_id):
        throttle.hit(business.pk, subject, GUESS_WINDOW)


def guards_code_lookups(use_case):
    """For a use case taking (business, *, member_id, codes, gift_card, actor, …) that refuses an unknown code
    with InvalidInput: check the guessing budget before it runs, and count the refusal after its transaction
    has rolled back — a dry run included, since it looks codes up just the same."""

    @functools.wraps(use_case)
    def guarded(business, *args, **kwargs):
        if not kwargs.get("codes") and not kwargs.get("gift_card"):
            return use_case(business, *args, **kwargs)
        attempt_key, member_id = attempt_key_of(kwargs.get("actor")), kwargs.get("member_id")
        check_guess_budget(business, attempt_key, member_id)
        try:
            return use_case(business, *args, **kwargs)
        except InvalidInput as exc:
            if any(error["message"] in UNKNOWN_CODE_ERRORS for error in exc.errors):
                count_unknown_code(business, attempt_key, member_id)
            raise

    return guarded


def validate(business, code: str, member, basket: Basket, branch_code: str | None, tier: str | None = None,
             at: dt.datetime | None = None, *, language: str | None = None,
             attempt_key: str | None = None) -> Validation:
    """Would this code apply to this basket, here and now, and for how much? Dates are judged in the business's
    timezone; `tier` defaults to the member's. A code that does not exist counts against the guessing budget of
    `attempt_key` (attempt_key_of the caller) and of the member; a real code refused does not."""
    language = _language(business, language)
    at = at or timezone.now()
    member_id = member.pk if member is not None else None
    clean = normalize_code(code)
    found = _code_checking_guesses(business, clean, attempt_key, member_id)
    row = found.code if found is not None else None
    if tier is None:
        tier = member.tier if member is not None else ""
    refusal = _refusal(row, member, branch_code, tier, _local_day(business, at), uses=found and found.uses)
    if refusal is None:
        assert row is not None
        standing = standing_terms(business, member, tier, at, language)
        applied = apply_codes(basket, [terms_of(row), *standing], language)[0]
        if applied.applied:
            return Validation(True, clean, applied.discount, "valid", applied.reason, applied)
        result = Validation(False, clean, 0, applied.status, applied.reason, applied)
    else:
        result = Validation(False, clean, 0, refusal[0], refusal_text(refusal[0], language, **refusal[1]))
        if row is None:
            count_unknown_code(business, attempt_key, member_id)
    return result


def reserve(business, code: str, member=None, minutes: int = 15) -> Reservation:
    """Hold one use of a limited code for an online checkout for `minutes`; a member's second reservation of
    the same code extends the first. Unlimited codes get a reservation too (it holds nothing back)."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
        raise InvalidInput("minutes", "too_large")
    with transaction.atomic():
        row = (VoucherCode.objects.select_for_update().select_related("definition")
               .filter(business=business, code=normalize_code(code)).first())
        if row is None:
            raise VoucherRejected("voucher_rejected", voucher=normalize_code(code), reason="not_found")
        now = timezone.now()
        if row.max_uses is not None and row.used_count + _held_by_others(row, member) >= row.max_uses:
            reason = "used_up" if row.used_count >= row.max_uses else "reserved"
            raise VoucherRejected("voucher_rejected", voucher=row.code, reason=reason)
        expires = now + dt.timedelta(minutes=minutes)
        if member is not None:
            mine = Reservation.objects.filter(business=business, code=row, member=member).first()
            if mine is not None:
                mine.expires_at = expires
                mine.save(update_fields=["expires_at"])
                return mine
        return Reservation.objects.create(business=business, code=row, member=member, expires_at=expires,
                                          token=secrets.token_urlsafe(24))


# --- redemption inside a purchase -----------------------------------------------------------------------------


def redeem_codes_for_purchase(business, member, purchase_id: int, codes: list[str], basket: Basket,
                              branch_code: str | None, tier: str | None = None, at: dt.datetime | None = None, *,
                              language: str | None = None, reservation_tokens: tuple[str, ...] = (),
                              rewards: tuple[VoucherTerms, ...] = (),
                              standing: tuple[VoucherTerms, ...] = ()) -> list[Applied]:
    """Redeem the codes entered on a purchase, in the order entered, and answer one pricing.Applied per code:
    the discount, its split over the basket's lines (`allocation`, in the basket's line order) and shipping,
    and the reason. A code whose status is `not_combined` or `nothing_to_discount` gives nothing and is not
    redeemed. Any code that cannot be used raises VoucherRejected (409, params voucher and reason), so the
    caller's transaction writes nothing.

    MUST run inside the caller's transaction.atomic (the purchase's): the code rows are locked and their use
    counts raised with a conditional UPDATE, so a limited code is never redeemed more often than its uses, even
    by concurrent purchases. The member's own reservations (and those whose tokens are given) are used up.
    `standing` promotions (standing_terms) are priced after the codes and compete with them; their results
    follow the codes' in the answer and redeem nothing. The member's `rewards` (a free item, an amount or a
    percent off) are priced between the codes and the standing promotions; they redeem nothing here either (the
    purchase marks them used) and the caller judges their statuses."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("redeem_codes_for_purchase must be called inside the purchase's transaction.atomic")
    if codes and Redemption.objects.filter(business=business, purchase_id=purchase_id,
                                           status=Redemption.Status.REDEEMED).exists():
        raise AlreadyDone("already_done", purchase_id=purchase_id)
    at = at or timezone.now()
    results, rows = _priced_codes(business, member, codes, basket, branch_code, tier, at, language=language,
                                  reservation_tokens=reservation_tokens, rewards=rewards, standing=standing,
                                  lock=True)
    for result in results[:len(rows)]:
        if not result.applied:
            continue
        row = rows[result.code]
        taken = (VoucherCode.objects.filter(pk=row.pk).filter(Q(max_uses__isnull=True) |
                                                               Q(used_count__lt=F("max_uses")))
                 .update(used_count=F("used_count") + 1))
        if taken:
            taken = (VoucherDefinition.objects.filter(pk=row.definition_id)
                     .filter(Q(max_uses_total__isnull=True) | Q(used_count__lt=F("max_uses_total")))
                     .update(used_count=F("used_count") + 1))
        if not taken:
            raise VoucherRejected("voucher_rejected", voucher=row.code, reason="used_up")
        Redemption.objects.create(business=business, definition_id=row.definition_id, code=row, member=member,
                                  purchase_id=purchase_id, amount=result.discount, reason=result.why,
                                  created_at=at)
        held = Reservation.objects.filter(business=business, code=row)
        mine = Q(token__in=list(reservation_tokens))
        if member is not None:
            mine |= Q(member=member)
        first = held.filter(mine).order_by("pk").first()
        if first is not None:
            first.delete()
    return results


def price_codes_for_purchase(business, member, codes: list[str], basket: Basket, branch_code: str | None,
                             tier: str | None = None, at: dt.datetime | None = None, *, language: str | None = None,
                             rewards: tuple[VoucherTerms, ...] = (),
                             standing: tuple[VoucherTerms, ...] = ()) -> list[Applied]:
    """What redeem_codes_for_purchase answers (and refuses), decided on the code rows read without a lock and
    written nowhere: a purchase's dry run. The purchase itself locks the rows and counts the uses."""
    return _priced_codes(business, member, codes, basket, branch_code, tier, at, language=language,
                         reservation_tokens=(), rewards=rewards, standing=standing, lock=False)[0]


def _priced_codes(business, member, codes: list[str], basket: Basket, branch_code: str | None, tier: str | None,
                  at: dt.datetime | None, *, language: str | None, reservation_tokens: tuple[str, ...],
                  rewards: tuple[VoucherTerms, ...], standing: tuple[VoucherTerms, ...],
                  lock: bool) -> tuple[list[Applied], dict[str, VoucherCode]]:
    """The codes' decision, shared by a purchase and its dry run: read the code rows (with `lock`, locked),
    refuse any that cannot be used here and now or on this basket, and price them with the member's rewards
    and standing promotions. Answers the prices and the rows, by code in the order entered."""
    language = _language(business, language)
    if not codes:
        return apply_codes(basket, list(rewards) + list(standing), language), {}
    at = at or timezone.now()
    clean = [normalize_code(code) for code in codes]
    if len(set(clean)) != len(clean):
        raise InvalidInput("codes", "duplicate_code")
    # unlocked and without reservation tokens (a dry run), the uses that limit each code read with it
    fold = not lock and not reservation_tokens
    by_code, _ = vouchers_sql.read_codes(business.pk, clean, lock=lock, uses_of=(
        member.pk if member is not None else None, timezone.now()) if fold else None)
    if tier is None:
        tier = member.tier if member is not None else ""
    day = _local_day(business, at)
    for code in clean:
        found = by_code.get(code)
        refusal = _refusal(found and found.code, member, branch_code, tier, day, reservation_tokens,
                           found and found.uses)
        if refusal is not None:
            raise VoucherRejected("voucher_rejected", voucher=code, reason=refusal[0], **refusal[1])
    rows = {code: by_code[code].code for code in clean}
    results = apply_codes(basket, [terms_of(rows[code]) for code in clean] + list(rewards) + list(standing),
                          language)
    for result in results[:len(clean)]:
        if result.status not in HARMLESS:
            raise VoucherRejected("voucher_rejected", voucher=result.code, reason=result.status, **result.params)
    return results, rows


def rollback_for_purchase(business, purchase_id: int, at: dt.datetime | None = None) -> int:
    """A purchase was cancelled or fully returned: its redemptions are rolled back and their codes may be used
    again. Idempotent (a second call rolls back nothing); answers how many were rolled back. Runs in the
    caller's transaction when there is one."""
    at = at or timezone.now()
    done = 0
    with transaction.atomic(savepoint=False):  # inside the caller's transaction, no savepoint of its own
        for redemption in (Redemption.objects.select_for_update()
                           .filter(business=business, purchase_id=purchase_id, status=Redemption.Status.REDEEMED)
                           .order_by("pk")):
            changed = Redemption.objects.filter(pk=redemption.pk, status=Redemption.Status.REDEEMED).update(
                status=Redemption.Status.ROLLED_BACK, rolled_back_at=at)
            if not changed:
                continue
            VoucherCode.objects.filter(pk=redemption.code_id, used_count__gt=0).update(
                used_count=F("used_count") - 1)
            VoucherDefinition.objects.filter(pk=redemption.definition_id, used_count__gt=0).update(
                used_count=F("used_count") - 1)
            done += 1
    return done
