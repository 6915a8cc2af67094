"""The only code that writes the catalogue. Each use case is one transaction, idempotent with an optional key:
a member asks for a gift (price taken, stock reserved or a partner code handed out), an operator fulfils or
rejects it (refund, stock back) and ships it. Every step is an outbox event."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from vafa.catalogue import selectors
from vafa.catalogue.models import PICTURE_PREFIX, PRICE_CURRENCIES, Gift, GiftCode, GiftGroup, GiftRequest
from vafa.core.actor import SYSTEM, Actor
from vafa.core.calendar import parse_date
from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.core.files import private_dir, private_file
from vafa.core.images import EXTENSIONS, image_type
from vafa.core.reasons import Reason
from vafa.core.usecase import run_use_case
from vafa.core.validation import MAX_AMOUNT
from vafa.ledger.models import Entry
from vafa.ledger.services import debit, give_back
from vafa.members.models import Member
from vafa.members.services import lock_member
from vafa.outbox.services import emit
from vafa.program.selectors import active_program

CURRENCIES = tuple(code for code, _ in PRICE_CURRENCIES)

MAX_STOCK = 10**9
MAX_CODES_PER_IMPORT = 10_000
NOTE_MAX = 2000
_PICTURE = re.compile(r"^(https?://[^\s<>\"']+|/[^\s<>\"']*)$")
GIFT_FIELDS = ("group_id", "title", "description", "picture", "display_from", "display_until", "price_currency",
               "price", "stock", "partner_name", "active")


# --- Reasons in the business's language ------------------------------------------------------------------------

def _request_reason(title: str) -> Reason:
    return Reason("gift.request", {"title": title})


def _refund_reason(title: str) -> Reason:
    return Reason("gift.refund", {"title": title})


# --- Groups and gifts -----------------------------------------------------------------------------------------

def _text(errors: list, field: str, value: Any, max_length: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.append({"field": field, "message": "must_be_text"})
        return ""
    text = value.strip()
    if "\x00" in text:
        errors.append({"field": field, "message": "bad_text"})
    elif required and not text:
        errors.append({"field": field, "message": "required"})
    elif len(text) > max_length:
        errors.append({"field": field, "message": "too_long"})
    return text


def _int(errors: list, field: str, value: Any, *, minimum: int, maximum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append({"field": field, "message": "must_be_integer"})
        return None
    if value < minimum:
        errors.append({"field": field, "message": "must_be_positive" if minimum > 0 else "must_not_be_negative"})
        return None
    if value > maximum:
        errors.append({"field": field, "message": "too_large"})
        return None
    return value


def create_group(business, *, title: str, position: int = 0) -> GiftGroup:
    errors: list[dict] = []
    clean_title = _text(errors, "title", title, 200, required=True)
    clean_position = _int(errors, "position", position, minimum=-MAX_STOCK, maximum=MAX_STOCK)
    if errors:
        raise InvalidInput(errors=errors)
    return GiftGroup.objects.create(business=business, title=clean_title, position=clean_position or 0)


def _clean_gift(business, data: dict, current: Gift | None) -> dict:
    """Check the given fields (all of them for a new gift) and the gift they make; raise every problem at once."""
    errors: list[dict] = []
    clean: dict = {}
    for name, value in data.items():
        if name not in GIFT_FIELDS:
            errors.append({"field": name, "message": "unknown_field"})
        elif name == "group_id":
            if value is None:
                clean["group"] = None
            elif isinstance(value, bool) or not isinstance(value, int):
                errors.append({"field": name, "message": "must_be_integer"})
            else:
                group = GiftGroup.objects.filter(business=business, pk=value).first()
                if group is None:
                    errors.append({"field": name, "message": "unknown_gift_group"})
                clean["group"] = group
        elif name == "title":
            clean[name] = _text(errors, name, value, 200, required=True)
        elif name == "description":
            clean[name] = _text(errors, name, value, 5000)
        elif name == "partner_name":
            clean[name] = _text(errors, name, value, 200)
        elif name == "picture":
            picture = _text(errors, name, value, 500)
            if picture and not _PICTURE.match(picture):
                errors.append({"field": name, "message": "not_an_http_url"})
            clean[name] = picture
        elif name in ("display_from", "display_until"):
            try:
                clean[name] = parse_date(value, name) if value not in (None, "") else None
            except InvalidInput as exc:
                errors.extend(exc.errors)
        elif name == "price_currency":
            if value not in CURRENCIES:
                errors.append({"field": name, "message": "unknown_choice"})
            clean[name] = value
        elif name == "price":
            clean[name] = _int(errors, name, value, minimum=1, maximum=MAX_AMOUNT)
        elif name == "stock":
            clean[name] = None if value is None else _int(errors, name, value, minimum=0, maximum=MAX_STOCK)
        elif name == "active":
            if not isinstance(value, bool):
                errors.append({"field": name, "message": "must_be_boolean"})
            clean[name] = value
    if current is None:
        for name in ("title", "price_currency", "price"):
            if name not in data:
                errors.append({"field": name, "message": "required"})
    if not errors:
        def merged(name):
            return clean[name] if name in clean else getattr(current, name, None)

        start, end = merged("display_from"), merged("display_until")
        if start and end and end < start:
            errors.append({"field": "display_until", "message": "before_display_from"})
        if merged("partner_name") and merged("stock") is not None:
            errors.append({"field": "stock", "message": "partner_stock_is_codes"})
    if errors:
        raise InvalidInput(errors=errors)
    return clean


def create_gift(business, **fields) -> Gift:
    """A new gift; `stock` None is unlimited, a partner gift's stock is the codes imported for it."""
    clean = _clean_gift(business, fields, None)
    now = timezone.now()
    gift = Gift.objects.create(business=business, created_at=now, updated_at=now, **clean)
    return selectors.gift_by_id(business, gift.pk)


def update_gift(business, gift_id: int, **changes) -> Gift:
    with transaction.atomic():
        gift = Gift.objects.select_for_update().filter(business=business, pk=gift_id).first()
        if gift is None:
            raise NotFound("gift_not_found")
        clean = _clean_gift(business, changes, gift)
        for name, value in clean.items():
            setattr(gift, name, value)
        gift.updated_at = timezone.now()
        gift.save()
    return selectors.gift_by_id(business, gift.pk)


PICTURE_MAX_BYTES = 1024 * 1024
PICTURE_NAME = re.compile(r"^[A-Za-z0-9_-]{22}\.(png|jpg|webp)$")


def picture_path(name: str):
    """The file of an uploaded gift picture, or None for a name that is not one of ours (no path tricks)."""
    return settings.MEDIA_DIR / "gifts" / name if PICTURE_NAME.fullmatch(name) else None


def set_gift_picture(business, gift_id: int, data: bytes) -> Gift:
    """A gift's picture from an upload: a PNG, JPEG or WebP (by its bytes) of at most 1 MB, kept under the data
    directory with a random name; the gift's `picture` becomes its address on this site. The file is written
    before the row, so a row never names a missing file (a refused row leaves an unused file, never the reverse)."""
    if len(data) > PICTURE_MAX_BYTES:
        raise InvalidInput("picture", "too_large")
    kind = image_type(data)
    if kind is None:
        raise InvalidInput("picture", "not_an_image")
    name = f"{secrets.token_urlsafe(16)}.{EXTENSIONS[kind]}"
    path = picture_path(name)
    assert path is not None  # token_urlsafe(16) is 22 URL-safe characters
    private_dir(path.parent)
    private_file(path).write_bytes(data)
    before = Gift.objects.filter(business=business, pk=gift_id).values_list("picture", flat=True).first()
    gift = update_gift(business, gift_id, picture=PICTURE_PREFIX + name)
    replaced = picture_path(before.removeprefix(PICTURE_PREFIX)) if before and before.startswith(PICTURE_PREFIX) else None
    if replaced is not None:
        transaction.on_commit(lambda: replaced.unlink(missing_ok=True))
    return gift


# --- Partner codes --------------------------------------------------------------------------------------------

def _codes_from_csv(source: Any) -> list[str]:
    if hasattr(source, "read"):
        source = source.read()
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("csv", "bad_text") from None
    if not isinstance(source, str):
        raise InvalidInput("csv", "must_be_text")
    codes = []
    for number, row in enumerate(csv.reader(io.StringIO(source.lstrip("\ufeff")))):
        cells = [cell.strip() for cell in row if cell.strip()]
        if not cells:
            continue
        if number == 0 and cells[0].lower() in ("code", "codes", "کد"):
            continue  # a header row
        codes.append(cells[0])
    return codes


def import_partner_codes(business, gift_id: int, codes: list[str] | None = None, *, csv_file: Any = None,
                         idempotency_key: str | None = None, actor: Actor = SYSTEM) -> dict:
    """Add a partner's codes to a partner gift's stock: a list, or the first column of a CSV (text, bytes or a
    file). A code the gift already has, or that repeats in the import, is skipped."""
    if (codes is None) == (csv_file is None):
        raise InvalidInput("codes", "give_codes_or_csv")
    raw = list(codes) if codes is not None else _codes_from_csv(csv_file)
    field = "codes" if codes is not None else "csv"
    errors = []
    clean: list[str] = []
    for i, code in enumerate(raw):
        if not isinstance(code, str) or "\x00" in code:
            errors.append({"field": f"{field}.{i}", "message": "bad_text"})
        elif not code.strip():
            errors.append({"field": f"{field}.{i}", "message": "required"})
        elif len(code.strip()) > 200:
            errors.append({"field": f"{field}.{i}", "message": "too_long"})
        else:
            clean.append(code.strip())
    if not raw:
        errors.append({"field": field, "message": "required"})
    elif len(raw) > MAX_CODES_PER_IMPORT:
        errors = [{"field": field, "message": "too_large"}]
    if errors:
        raise InvalidInput(errors=errors[:50])

    def use_case() -> dict:
        gift = Gift.objects.select_for_update().filter(business=business, pk=gift_id).first()
        if gift is None:
            raise NotFound("gift_not_found")
        if not gift.is_partner:
            raise Conflict("not_a_partner_gift")
        unique = list(dict.fromkeys(clean))
        existing = set(GiftCode.objects.filter(business=business, gift=gift, code__in=unique)
                       .values_list("code", flat=True))
        new = [code for code in unique if code not in existing]
        now = timezone.now()
        GiftCode.objects.bulk_create([GiftCode(business=business, gift=gift, code=code, imported_at=now)
                                      for code in new])
        return {"gift_id": gift.pk, "imported": len(new), "skipped_duplicates": len(clean) - len(new),
                "available": selectors.available_codes(gift)}

    result, replayed = run_use_case(business, "gift.codes", {"gift_id": gift_id, "codes": clean}, use_case,
                                    actor=actor, key=idempotency_key, object_type="gift", object_id="gift_id")
    return result | {"replayed": replayed}


# --- Requests -------------------------------------------------------------------------------------------------

def _event(found: GiftRequest, **extra) -> dict:
    return {"request_id": found.pk, "member_id": found.member_id, "gift_id": found.gift_id,
            "title": found.gift.title, "price_currency": found.price_currency, "price": found.price,
            "status": found.status, **extra}


def _note(field: str, value: Any) -> str:
    errors: list[dict] = []
    text = _text(errors, field, value, NOTE_MAX)
    if errors:
        raise InvalidInput(errors=errors)
    return text


def request_gift(business, member_id: int, gift_id: int, *, actor: Actor = SYSTEM,
                 idempotency_key: str | None = None, at: dt.datetime | None = None) -> dict:
    """A member asks for a gift: one unit of stock (or a partner code) is reserved and the price is taken from
    their balance, never below zero."""

    def use_case() -> dict:
        member = lock_member(member_id, business.pk)
        if member.status == Member.Status.BLOCKED:
            raise Conflict("member_blocked")
        now = at or timezone.now()
        gift = Gift.objects.filter(business=business, pk=gift_id).first()
        if gift is None:
            raise NotFound("gift_not_found")
        if not selectors.is_displayed(gift, selectors.business_today(business, now)):
            raise Conflict("gift_not_available")
        code = None
        reserved = False
        if gift.is_partner:
            # Concurrent requests each take a different code: a locked code is skipped, not waited for.
            code = (GiftCode.objects.select_for_update(skip_locked=True)
                    .filter(business=business, gift=gift, status=GiftCode.Status.AVAILABLE).order_by("pk").first())
            if code is None:
                raise Conflict("out_of_stock")
        elif gift.stock is not None:
            # One conditional UPDATE: two requests for the last unit cannot both succeed.
            if not Gift.objects.filter(pk=gift.pk, stock__gt=0).update(stock=F("stock") - 1):
                raise Conflict("out_of_stock")
            reserved = True
        entry = debit(member, gift.price_currency, gift.price, kind=Entry.Kind.SPEND,
                      reason=_request_reason(gift.title), at=now, actor=actor, source=f"gift:{gift.pk}")
        found = GiftRequest.objects.create(
            business=business, member=member, gift=gift, price_currency=gift.price_currency, price=gift.price,
            stock_reserved=reserved, debit_entry=entry, code=code.code if code else "", requested_at=now,
            **actor.fields())
        if code is not None:
            code.status = GiftCode.Status.HANDED_OUT
            code.request = found
            code.handed_out_at = now
            code.save(update_fields=["status", "request", "handed_out_at"])
        emit(business.pk, "gift.requested", _event(found, code=found.code or None))
        return selectors.request_json(found)

    result, replayed = run_use_case(business, "gift.request", {"member_id": member_id, "gift_id": gift_id},
                                    use_case, actor=actor, key=idempotency_key, object_type="gift_request")
    return result | {"replayed": replayed}


def _locked_request(business, request_id: int) -> GiftRequest:
    found = (GiftRequest.objects.select_for_update().select_related("gift")
             .filter(business=business, pk=request_id).first())
    if found is None:
        raise NotFound("gift_request_not_found")
    return found


def _expect(found: GiftRequest, status: str) -> None:
    if found.status != status:
        raise Conflict(f"gift_request_not_{status}", status=found.status)


def _handled(found: GiftRequest, actor: Actor) -> None:
    found.handled_by_kind, found.handled_by_id, found.handled_by_label = actor.kind, actor.id, actor.label


def _advance(business, request_id: int, *, expected: str, to: str, stamp: str, event: str, changes: dict,
             actor: Actor, idempotency_key: str | None) -> dict:
    """One step of an open request that moves no money: check its status, stamp the time, emit the event."""

    def use_case() -> dict:
        found = _locked_request(business, request_id)
        _expect(found, expected)
        found.status = to
        setattr(found, stamp, timezone.now())
        for name, value in changes.items():
            setattr(found, name, value)
        _handled(found, actor)
        found.save()
        emit(business.pk, event, _event(found, **changes))
        return selectors.request_json(found)

    result, replayed = run_use_case(business, event, {"request_id": request_id, **changes}, use_case, actor=actor,
                                    key=idempotency_key, object_type="gift_request", status=200)
    return result | {"replayed": replayed}


def fulfil_request(business, request_id: int, *, note: str = "", actor: Actor = SYSTEM,
                   idempotency_key: str | None = None) -> dict:
    """requested → fulfilled: the business accepts the request and prepares the gift."""
    return _advance(business, request_id, expected=GiftRequest.Status.REQUESTED, to=GiftRequest.Status.FULFILLED,
                    stamp="fulfilled_at", event="gift.fulfilled", changes={"note": _note("note", note)}, actor=actor,
                    idempotency_key=idempotency_key)


def ship_request(business, request_id: int, *, shipping_note: str = "", actor: Actor = SYSTEM,
                 idempotency_key: str | None = None) -> dict:
    """fulfilled → shipped: the gift left the business (a tracking number in the note); the request is closed."""
    return _advance(business, request_id, expected=GiftRequest.Status.FULFILLED, to=GiftRequest.Status.SHIPPED,
                    stamp="shipped_at", event="gift.shipped",
                    changes={"shipping_note": _note("shipping_note", shipping_note)}, actor=actor,
                    idempotency_key=idempotency_key)


def _refund_expiry(business, currency: str, at: dt.datetime) -> dt.datetime | None:
    """When a refund that cannot go back into the lots it came from expires: the program's expiry for it."""
    try:
        _, document = active_program(business)
    except NotFound:
        return None
    days = document.settings.currency(currency).expiry_days
    return at + dt.timedelta(days=days) if days else None


def reject_request(business, request_id: int, *, note: str = "", actor: Actor = SYSTEM,
                   idempotency_key: str | None = None) -> dict:
    """requested → rejected: the price goes back to the member, the stock or the code back to the gift."""
    clean_note = _note("note", note)

    def use_case() -> dict:
        member_of = (GiftRequest.objects.filter(business=business, pk=request_id)
                     .values_list("member_id", flat=True).first())
        if member_of is None:
            raise NotFound("gift_request_not_found")
        member = lock_member(member_of, business.pk)  # the member first, as every balance write does
        found = _locked_request(business, request_id)
        _expect(found, GiftRequest.Status.REQUESTED)
        now = timezone.now()
        refund = give_back(member, found.price_currency, found.price, spend_entries=[found.debit_entry],
                           reason=_refund_reason(found.gift.title),
                           fallback_expires_at=_refund_expiry(business, found.price_currency, now), at=now,
                           actor=actor, source=f"gift:{found.gift_id}")
        if found.stock_reserved:
            Gift.objects.filter(pk=found.gift_id, stock__isnull=False).update(stock=F("stock") + 1)
        GiftCode.objects.filter(business=business, request=found, status=GiftCode.Status.HANDED_OUT).update(
            status=GiftCode.Status.AVAILABLE, request=None, handed_out_at=None)
        found.status = GiftRequest.Status.REJECTED
        found.rejected_at = now
        found.refund_entry = refund
        found.code = ""
        found.note = clean_note
        _handled(found, actor)
        found.save()
        emit(business.pk, "gift.rejected", _event(found, note=found.note, refunded=found.price))
        return selectors.request_json(found)

    result, replayed = run_use_case(business, "gift.reject", {"request_id": request_id, "note": clean_note},
                                    use_case, actor=actor, key=idempotency_key, object_type="gift_request",
                                    status=200)
    return result | {"replayed": replayed}
