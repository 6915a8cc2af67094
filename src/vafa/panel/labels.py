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
    # messaging: every kind a Message row or a template has ("update" and "reminder" are composed messages)
    "message_kind": {"update": _("Balance update"), "reminder": _("Expiry reminder"),
                     "greeting": _("Greeting line"), "footer": _("Footer (balance, expiry, link)"),
                     "opt_out_line": _("Opt-out line"), "points_earned": _("Points earned"),
                     "points_spent": _("Points spent"), "credit_earned": _("Credit earned"),
                     "credit_spent": _("Credit spent"), "code_used": _("Discount code used"), "return": _("Return"),
                     "tier_changed": _("Tier change"), "gift_requested": _("Gift requested"),
                     "gift_requested_admin": _("Gift requested (to the admin)"), "gift_fulfilled": _("Gift ready"),
                     "gift_shipped": _("Gift shipped"), "welcome": _("Welcome"), "otp": _("One-time code"),
                     "expiry_reminder": _("Expiry reminder"), "birthday": _("Birthday"),
                     "marriage_anniversary": _("Marriage anniversary"),
                     "membership_anniversary": _("Membership anniversary"), "holiday": _("Holiday greeting"),
                     "promotion": _("Promotion"), "manual": _("Sent by hand"), "broadcast": _("Broadcast"),
                     "test": _("Test message")},
    "message_state": {"composing": _("Being composed"), "queued": _("Queued"), "sending": _("Sending"),
                      "sent": _("Sent"), "delivered": _("Delivered"), "failed": _("Failed"),
                      "blocked": _("Blocked"), "skipped": _("Not sent")},
    "message_class": {"transactional": _("Transactional"), "informational": _("Informational"),
                      "promotional": _("Promotional")},
    "channel": {"sms": _("SMS"), "email": _("Email")},
    # WooCommerce's order states (its own words in the shop's settings)
    "woo_status": {"pending": _("Pending payment"), "processing": _("Processing"), "on-hold": _("On hold"),
                   "completed": _("Completed"), "cancelled": _("Cancelled"), "refunded": _("Refunded"),
                   "failed": _("Failed")},
    # what a use case did, as the audit log names it when no request line says it (jobs, the command line)
    "operation": {"purchase": _("Purchase"), "return": _("Return or cancellation"), "adjustment": _("Adjustment"),
                  "conversion": _("Conversion"), "donation": _("Donation"), "subscription": _("Plan subscription"),
                  "import": _("Import"), "reward_use": _("Reward handed over"), "gift.request": _("Gift requested"),
                  "gift.reject": _("Gift request rejected"), "gift.codes": _("Gift codes added"),
                  "gift_credit.grant": _("Gift credit granted"), "member.export": _("Member data exported"),
                  "panel.post": _("Back-office change")},
    "sms_provider": {"kavenegar": _("Kavenegar"), "file": _("File (messages.jsonl, for trying out)"),
                     "console": _("Console (for developers)"), "none": _("None: send no SMS")},
    "broadcast_state": {"scheduled": _("Scheduled"), "queued": _("Sending"), "done": _("Done")},
    "period": {"monthly": _("Monthly"), "yearly": _("Yearly")},
    "payment": {"wallet": _("From the wallet"), "external": _("Paid at the till or online")},
    "subscription": {"active": _("Active"), "expired": _("Expired")},
}


def label(kind: str, value) -> str:
    return str(LABELS.get(kind, {}).get(value, value))
