"""Translated labels for stored choice values (roles, statuses, currencies …), looked up by the `label` filter."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "role": {"owner": _("Owner"), "manager": _("Manager"), "cashier": _("Cashier"), "analyst": _("Analyst")},
    "member_status": {"active": _("Active"), "candidate": _("Candidate"), "blocked": _("Blocked")},
    "card_status": {"active": _("Active"), "lost": _("Lost"), "replaced": _("Replaced")},
    "card_kind": {"qr": _("QR code"), "barcode": _("Barcode"), "magnetic": _("Magnetic")},
    "currency": {"points": _("Points"), "coins": _("Coins"), "wallet": _("Wallet"), "gift_credit": _("Gift credit")},
    "purchase_status": {"completed": _("Completed"), "partially_returned": _("Partly returned"),
                        "returned": _("Returned"), "cancelled": _("Cancelled")},
    "gender": {"": "—", "female": _("Female"), "male": _("Male"), "other": _("Other")},
    "entry_kind": {"earn": _("Earned"), "spend": _("Spent"), "expire": _("Expired"), "adjust": _("Adjustment"),
                   "reverse": _("Reversed"), "give_back": _("Given back"), "convert": _("Conversion"),
                   "release": _("Released"), "transfer": _("Transfer")},
    "effect_kind": {"earn": _("Earned"), "cashback": _("Cashback"), "spend": _("Spent"), "discount": _("Discount")},
    "gift_request": {"requested": _("Requested"), "fulfilled": _("Fulfilled"), "rejected": _("Rejected, refunded"),
                     "shipped": _("Shipped")},
    "delivery": {"pending": _("Pending"), "delivered": _("Delivered"), "failed": _("Failed")},
    "voucher_kind": {"percent": _("Percent off"), "fixed": _("Amount off"), "free_shipping": _("Free shipping"),
                     "free_item": _("Free item"), "buy_n_get_m": _("Buy N get M")},
    "code_status": {"active": _("Active"), "disabled": _("Disabled")},
    "redemption": {"redeemed": _("Redeemed"), "rolled_back": _("Rolled back")},
    "scope": {"read": _("Read"), "write": _("Write"), "admin": _("Admin")},
    "period": {"monthly": _("Monthly"), "yearly": _("Yearly")},
    "payment": {"wallet": _("From the wallet"), "external": _("Paid at the till or online")},
    "subscription": {"active": _("Active"), "expired": _("Expired")},
}


def label(kind: str, value) -> str:
    return str(LABELS.get(kind, {}).get(value, value))
