"""WooCommerce order webhooks: a paid order becomes a purchase, a refund a return, a refunded or cancelled order a
cancellation; all idempotent by order id (docs/woocommerce.md).

Every delivery carries the whole order, so a delivery is handled by comparing the order with what Vafa already
did for it (the WooOrder row): a second delivery of the same paid order finds the purchase and does nothing,
each refund id is returned once, and a cancellation happens once. The receipt is "woo-<order id>" at the
connection's branch, so the purchase's receipt replay and the return's idempotency key guard the same
order even if the WooOrder row is lost (a connection made again for the same shop and branch).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from urllib.parse import unquote

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pydantic import ValidationError

from vafa.core.actor import Actor
from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.core.idempotency import SystemKey, system_record
from vafa.core.money import CURRENCIES
from vafa.core.phone import normalize_mobile
from vafa.members.models import Member
from vafa.members.selectors import find_member
from vafa.members.services import sign_up
from vafa.purchases.models import Purchase
from vafa.purchases.services import PurchaseInput, cancel_purchase, record, return_purchase
from vafa.tenancy.models import Branch
from vafa.woocommerce.models import WooConnection, WooOrder, default_paid_statuses
from vafa.woocommerce.schemas import Billing, LineItem, Order

log = logging.getLogger("vafa.woocommerce")

ORDER_TOPICS = ("order.created", "order.updated", "order.restored", "order.deleted")
REVERSING_STATUSES = frozenset({"refunded", "cancelled", "failed"})  # a purchase already made is cancelled
NEVER_PAID = REVERSING_STATUSES | {"pending", "checkout-draft", "draft", "trash", "auto-draft"}
REVERSED = (Purchase.Status.RETURNED, Purchase.Status.CANCELLED)
JOIN_SOURCE = "woocommerce"
CHANNEL = "woocommerce"
# Iranian shops price in Rial, Toman, thousand Rial or thousand Toman (Persian WooCommerce's IRR, IRT, IRHR,
# IRHT): any of them converts exactly into a Rial or Toman business. Other currencies must match the business.
RIAL_PER_UNIT = {"IRR": 1, "IRT": 10, "IRHR": 1_000, "IRHT": 10_000}
CATEGORY_META_KEYS = ("vafa_category", "_vafa_category")
STATUS_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
PING_PATTERN = re.compile(rb"webhook_id=\d+")
PYDANTIC_MESSAGES = {"missing": "required", "int_type": "must_be_integer", "int_parsing": "must_be_integer",
                     "int_from_float": "must_be_integer", "decimal_parsing": "not_a_decimal",
                     "decimal_type": "not_a_decimal", "string_type": "must_be_text", "list_type": "must_be_list",
                     "model_type": "must_be_object", "dict_type": "must_be_object",
                     "greater_than_equal": "must_be_positive", "string_too_long": "too_long"}


# --- connections -----------------------------------------------------------------------------------------


def clean_paid_statuses(values: list | None) -> list[str]:
    if values is None:
        return default_paid_statuses()
    errors: list[dict] = []
    clean: list[str] = []
    if not isinstance(values, list):
        raise InvalidInput("paid_statuses", "must_be_list")
    for i, raw in enumerate(values):
        status = raw.strip().lower().removeprefix("wc-") if isinstance(raw, str) else ""
        if not STATUS_PATTERN.fullmatch(status):
            errors.append({"field": f"paid_statuses.{i}", "message": "bad_text"})
        elif status in NEVER_PAID:
            errors.append({"field": f"paid_statuses.{i}", "message": "not_a_paid_status"})
        elif status not in clean:
            clean.append(status)
    if not clean and not errors:
        errors.append({"field": "paid_statuses", "message": "required"})
    if errors:
        raise InvalidInput(errors=errors)
    return clean


@transaction.atomic
def create_connection(business, *, branch_code: str, sign_up_unknown: bool = True,
                      paid_statuses: list[str] | None = None) -> WooConnection:
    """A new connection with a fresh secret and token; the secret goes into WooCommerce's webhook form."""
    errors: list[dict] = []
    branch = Branch.objects.filter(business=business, code=branch_code, active=True).first()
    if branch is None:
        errors.append({"field": "branch", "message": "unknown_branch"})
    try:
        statuses = clean_paid_statuses(paid_statuses)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors=errors)
    return WooConnection.objects.create(
        business=business, branch=branch, token=f"{business.pk}-{secrets.token_urlsafe(24)}",
        secret=secrets.token_urlsafe(32), sign_up_unknown=bool(sign_up_unknown), paid_statuses=statuses)


def deactivate_connection(business, connection_id: int) -> WooConnection:
    connection = WooConnection.objects.filter(business=business, pk=connection_id).first()
    if connection is None:
        raise NotFound("woocommerce_connection_not_found")
    connection.active = False
    connection.save(update_fields=["active"])
    return connection


def delivery_url(connection: WooConnection) -> str:
    """The path WooCommerce posts to: /api/v1/woocommerce/<token>."""
    return reverse("api-v1:woocommerce_webhook", kwargs={"token": connection.token})


def connection_for_token(token: str) -> WooConnection | None:
    """The active connection a delivery URL's token names. The token starts with the business id, so the
    lookup stays within one tenant's rows."""
    business_id, _, rest = token.partition("-")
    if not (business_id.isascii() and business_id.isdigit()) or not rest or len(token) > 80:
        return None
    return (WooConnection.objects.filter(business_id=int(business_id), token=token, active=True)
            .select_related("business", "branch").first())


# --- deliveries ------------------------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """What WooCommerce sends in X-WC-Webhook-Signature: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_ok(secret: str, body: bytes, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), given.strip().encode())


def is_ping(body: bytes) -> bool:
    """WooCommerce pings the delivery URL when a webhook is saved: a form body "webhook_id=NN", unsigned. The
    webhook is saved as active only if the answer is 200."""
    return PING_PATTERN.fullmatch(body.strip()) is not None


def parse_body(body: bytes) -> dict:
    """The delivery's JSON, with every number read as int or Decimal, never float."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise InvalidInput("body", "not_json") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "must_be_object")
    return data


def parse_order(payload: dict) -> Order:
    try:
        return Order.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput(errors=[
            {"field": ".".join(str(p) for p in error["loc"]) or "body",
             "message": PYDANTIC_MESSAGES.get(error["type"], str(error["msg"]).removeprefix("Value error, "))}
            for error in exc.errors()]) from None


def minor_per_unit(order_currency: str, business_currency: str) -> Fraction | None:
    """How many of the business currency's minor units one unit of the order's currency is; None when the two
    cannot be converted exactly."""
    minor = Fraction(10 ** CURRENCIES[business_currency].minor_unit)
    code = (order_currency or business_currency).strip().upper()
    if code == business_currency:
        return minor
    if code in RIAL_PER_UNIT and business_currency in RIAL_PER_UNIT:
        return Fraction(RIAL_PER_UNIT[code], RIAL_PER_UNIT[business_currency]) * minor
    return None


def exact_minor(value: Decimal, rate: Fraction, name: str) -> int:
    """A decimal amount in minor units, exactly: "12.50" USD is 1250, "125000.00" Toman is 125000, and "12.505"
    USD is an error rather than a rounded guess."""
    amount = Fraction(value) * rate
    if amount.denominator != 1:
        raise InvalidInput(name, "not_exact_amount")
    return int(amount)


def _half_up(amount: Fraction) -> int:
    """Round a non-negative fraction to the nearest integer, halves up."""
    return (2 * amount.numerator + amount.denominator) // (2 * amount.denominator)


def line_category(item: LineItem) -> str:
    """The first category slug of a line: from a `categories` list (slugs, or objects with a slug) that a
    snippet adds to the payload, else from the line's meta `vafa_category`. WordPress keeps non-Latin slugs
    percent-encoded ("%d9%82%d9%87%d9%88%d9%87"); they are decoded ("قهوه")."""
    for entry in item.categories:
        slug = entry.get("slug") if isinstance(entry, dict) else entry
        if isinstance(slug, str) and slug.strip():
            return unquote(slug.strip())[:64]
    for meta in item.meta_data:
        if isinstance(meta, dict) and meta.get("key") in CATEGORY_META_KEYS:
            value = meta.get("value")
            if isinstance(value, list):
                value = next((v for v in value if isinstance(v, str) and v.strip()), None)
            if isinstance(value, str) and value.strip():
                return unquote(value.strip())[:64]
    return ""


def order_lines(order: Order, rate: Fraction) -> list[dict]:
    """Line items as purchase lines. The unit price is the line subtotal (before coupons) over the quantity,
    exactly when it divides into whole minor units, else rounded half up. The program apportions the purchase
    total over the line amounts, so lines weigh the total rather than add up to it."""
    lines = []
    for i, item in enumerate(order.line_items):
        if item.quantity < 1:
            continue
        if item.subtotal < 0:
            raise InvalidInput(f"line_items.{i}.subtotal", "must_not_be_negative")
        lines.append({"sku": item.sku.strip()[:64], "name": item.name.strip()[:200],
                      "category": line_category(item), "quantity": item.quantity,
                      "unit_price": _half_up(Fraction(item.subtotal) * rate / item.quantity)})
    return lines


def occurred_at(order: Order) -> dt.datetime | None:
    """When the order was paid (else created): WooCommerce's *_gmt fields carry no offset and are UTC."""
    for name in ("date_paid_gmt", "date_created_gmt"):
        raw = getattr(order, name)
        if not raw:
            continue
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(name, "not_a_date") from None
        if timezone.is_naive(value):
            value = value.replace(tzinfo=dt.UTC)
        return min(value, timezone.now())  # a shop clock a little ahead is not a purchase in the future
    return None


def _email(text: str) -> str:
    text = text.strip()
    if not text or len(text) > 254:
        return ""
    try:
        validate_email(text)
    except DjangoValidationError:
        return ""
    return text


def resolve_member(connection: WooConnection, billing: Billing, actor: Actor) -> tuple[Member | None, bool]:
    """The customer: by billing mobile, else by billing email, else signed up with the billing mobile and name
    (when the connection allows). Answers (member or None, signed up now)."""
    business = connection.business
    phone = billing.phone.strip()
    email = _email(billing.email)
    if phone:
        try:
            return find_member(business, phone=phone), False
        except (NotFound, InvalidInput):
            pass
    if email:
        member = Member.objects.filter(business=business, email__iexact=email).order_by("id").first()
        if member is not None:
            return member, False
    if not phone or not connection.sign_up_unknown:
        return None, False
    try:
        normalize_mobile(phone, business.phone_region)
    except InvalidInput:
        return None, False  # a landline or a number that is no phone: nothing to sign up with
    profile = {"first_name": billing.first_name.strip()[:100], "last_name": billing.last_name.strip()[:100],
               "email": email, "join_source": JOIN_SOURCE}
    try:
        return sign_up(business, mobile=phone, actor=actor, **profile), True
    except Conflict:  # signed up a moment ago by a concurrent delivery
        return find_member(business, phone=phone), False


@dataclass
class Outcome:
    """The answer to a delivery: 200 when it was handled, 202 when well-formed but deliberately ignored (a
    reason in `ignored`). WooCommerce disables a webhook after repeated non-2xx answers, so only a bad
    signature, an unknown URL or a malformed payload get an error."""

    status: int
    body: dict = field(default_factory=dict)


def _lock_order(connection: WooConnection, order_id: int) -> WooOrder:
    row, _ = WooOrder.objects.select_for_update().get_or_create(
        business_id=connection.business_id, connection=connection, order_id=order_id)
    return row


def _existing_purchase(row: WooOrder, connection: WooConnection) -> Purchase | None:
    if row.purchase_id is not None:
        return Purchase.objects.get(pk=row.purchase_id)
    return Purchase.objects.filter(business_id=connection.business_id, branch_id=connection.branch_id,
                                   receipt=f"woo-{row.order_id}").first()


def _record(connection: WooConnection, order: Order, rate: Fraction, actor: Actor) -> tuple[Purchase | None, str, dict]:
    business = connection.business
    total = exact_minor(order.total, rate, "total")
    if total < 0:
        raise InvalidInput("total", "must_not_be_negative")
    lines = order_lines(order, rate)
    when = occurred_at(order)
    member, signed_up = resolve_member(connection, order.billing, actor)
    if member is None:
        return None, "no_member", {}
    try:
        result = record(business, PurchaseInput(member_id=member.pk, branch_code=connection.branch.code,
                                                receipt=f"woo-{order.id}", total=total, occurred_at=when,
                                                channel=CHANNEL, lines=lines, lines_weigh_total=True),
                        actor=actor)
    except Conflict as exc:
        if exc.detail == "member_blocked":
            return None, "member_blocked", {}
        raise
    purchase = Purchase.objects.get(pk=result["purchase_id"])
    return purchase, "", {"kind": "purchase", "purchase_id": purchase.pk, "member_id": member.pk,
                          "signed_up": signed_up, "total": total, "effects": result["effects"],
                          "replayed": result["replayed"]}


def _reverse(connection: WooConnection, row: WooOrder, order: Order, status: str, purchase: Purchase,
             rate: Fraction, actor: Actor) -> list[dict]:
    """Refunds not yet applied become returns by amount; a refunded, cancelled or failed order cancels what is
    left of the purchase."""
    business = connection.business
    actions: list[dict] = []
    applied = [int(i) for i in row.applied_refunds]
    if status in REVERSING_STATUSES:
        purchase.refresh_from_db()
        if purchase.status not in REVERSED:
            result = cancel_purchase(business, purchase.pk, reason=f"WooCommerce order {order.id} {status}",
                                     idempotency_key=SystemKey(f"woo-cancel-{order.id}-{purchase.pk}"), actor=actor)
            actions.append({"kind": "cancel", "return_id": result["return_id"],
                            "amount": result["returned_amount"], "replayed": result["replayed"]})
        row.applied_refunds = sorted(set(applied) | {refund.id for refund in order.refunds})
        return actions
    for i, refund in sorted(enumerate(order.refunds), key=lambda pair: pair[1].id):
        if refund.id in applied:
            continue
        amount = abs(exact_minor(refund.total, rate, f"refunds.{i}.total"))
        key: str | None = SystemKey(f"woo-refund-{order.id}-{refund.id}")
        earlier = system_record(business, key)
        if earlier is not None and (earlier.response or {}).get("purchase_id") == purchase.pk:
            applied.append(refund.id)  # returned before, by a WooOrder row since lost
            continue
        if earlier is not None:
            key = None  # another shop's order with the same numbers: this order's row guards it alone
        purchase.refresh_from_db()
        left = purchase.total - purchase.returned_amount
        if amount and left > 0 and purchase.status not in REVERSED:
            reason = f"WooCommerce refund {refund.id}" + (f": {refund.reason.strip()}" if refund.reason.strip() else "")
            result = return_purchase(business, purchase.pk, amount=min(amount, left), reason=reason,
                                     idempotency_key=key, actor=actor)
            actions.append({"kind": "return", "refund_id": refund.id, "return_id": result["return_id"],
                            "amount": result["returned_amount"], "replayed": result["replayed"]})
        applied.append(refund.id)
    row.applied_refunds = applied
    return actions


def handle_delivery(connection: WooConnection, payload: dict, *, topic: str | None, delivery_id: str = "",
                    ip: str | None = None) -> Outcome:
    """Bring Vafa up to date with one order as WooCommerce sent it. One transaction: bad input writes nothing."""
    topic = (topic or "order.updated").strip().lower()
    if topic not in ORDER_TOPICS:
        return Outcome(202, {"ignored": "not_an_order_topic", "actions": []})
    actor = Actor("woocommerce", str(connection.pk), f"WooCommerce → {connection.branch.code}", ip)
    if topic == "order.deleted":
        # Trashing or deleting an order in WooCommerce leaves its purchase alone: refund or cancel it there to
        # take the points back. The delivery is remembered only.
        order_id = payload.get("id")
        if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id < 1:
            raise InvalidInput("id", "must_be_integer")
        WooOrder.objects.filter(business_id=connection.business_id, connection=connection, order_id=order_id).update(
            last_topic=topic, last_delivery_id=delivery_id[:64], updated_at=timezone.now())
        return Outcome(200, {"order_id": order_id, "actions": []})

    order = parse_order(payload)
    status = order.status.strip().lower().removeprefix("wc-")
    rate = minor_per_unit(order.currency, connection.business.currency)
    with transaction.atomic():
        row = _lock_order(connection, order.id)
        purchase = _existing_purchase(row, connection)
        actions: list[dict] = []
        ignored = ""
        if rate is None:
            ignored = "currency_mismatch"
        elif purchase is None and status in connection.paid_statuses:
            purchase, ignored, action = _record(connection, order, rate, actor)
            if action:
                actions.append(action)
        elif purchase is not None and status in connection.paid_statuses and purchase.status in REVERSED \
                and not order.refunds:
            ignored = "purchase_reversed"  # a cancelled order paid again is not counted twice
        if purchase is not None and not ignored:
            actions.extend(_reverse(connection, row, order, status, purchase, rate, actor))
        row.purchase = purchase
        row.last_status = status[:32]
        row.last_topic = topic
        row.last_delivery_id = delivery_id[:64]
        row.ignored = ignored
        row.save()
        WooConnection.objects.filter(pk=connection.pk).update(last_delivery_at=timezone.now())
    if ignored:
        log.info("woocommerce order %s of business %s ignored: %s", order.id, connection.business_id, ignored)
    return Outcome(202 if ignored else 200, {"order_id": order.id, "status": status,
                                             "purchase_id": purchase.pk if purchase else None,
                                             "actions": actions, "ignored": ignored or None})
