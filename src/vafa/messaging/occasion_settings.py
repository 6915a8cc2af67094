"""The occasions' settings (F40, F52): the occasions, the built-in Jalali holidays a business may edit, and the
gifts per occasion and tier, each checked when the messaging settings are saved (services.update_settings)."""

from __future__ import annotations

import jdatetime

from vafa.core.errors import InvalidInput
from vafa.vouchers.models import VoucherDefinition

OCCASIONS = ("birthday", "marriage_anniversary", "membership_anniversary", "holiday")
GIFT_CURRENCIES = ("points", "gift_credit")

# (Jalali month, day, Persian name, English name)
BUILT_IN_HOLIDAYS = [
    {"month": 1, "day": 1, "name_fa": "نوروز", "name_en": "Nowruz"},
    {"month": 1, "day": 13, "name_fa": "روز طبیعت", "name_en": "Nature Day"},
    {"month": 7, "day": 1, "name_fa": "آغاز مهر", "name_en": "the new school year"},
    {"month": 9, "day": 30, "name_fa": "شب یلدا", "name_en": "Yalda Night"},
    {"month": 12, "day": 29, "name_fa": "پایان سال", "name_en": "the year's end"},
]


def clean_holidays(value) -> list[dict]:
    if not isinstance(value, list) or len(value) > 60:
        raise InvalidInput("holidays", "must_be_list")
    clean = []
    for i, item in enumerate(value):
        try:
            month, day = int(item["month"]), int(item["day"])
            jdatetime.date(1403, month, day)  # 1403 is a leap year: 30 Esfand exists
            names = {"name_fa": str(item["name_fa"])[:60], "name_en": str(item.get("name_en") or item["name_fa"])[:60]}
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(f"holidays.{i}", "bad_holiday") from None
        clean.append({"month": month, "day": day} | names)
    return clean


def clean_gifts(business, value) -> dict:
    """{occasion: {tier or "*": {currency, amount, expiry_days} or {voucher_definition_id}}}; "*" is every tier
    not listed. Raises InvalidInput with every problem."""
    if not isinstance(value, dict):
        raise InvalidInput("occasion_gifts", "must_be_object")
    errors: list[dict] = []
    clean: dict = {}
    definitions = set(VoucherDefinition.objects.filter(business_id=business.pk).values_list("pk", flat=True))
    for occasion, by_tier in value.items():
        if occasion not in OCCASIONS or not isinstance(by_tier, dict):
            errors.append({"field": f"occasion_gifts.{occasion}", "message": "unknown_choice"})
            continue
        clean[occasion] = {}
        for tier, gift in by_tier.items():
            field = f"occasion_gifts.{occasion}.{tier}"
            gift = {k: v for k, v in gift.items() if v is not None} if isinstance(gift, dict) else None
            if gift is None or not isinstance(tier, str) or not tier or len(tier) > 32:
                errors.append({"field": field, "message": "bad_gift"})
            elif "voucher_definition_id" in gift:
                if set(gift) != {"voucher_definition_id"} or gift["voucher_definition_id"] not in definitions:
                    errors.append({"field": field, "message": "unknown_voucher_definition"})
                else:
                    clean[occasion][tier] = gift
            elif (gift.get("currency") not in GIFT_CURRENCIES or set(gift) - {"currency", "amount", "expiry_days"}
                  or not _positive(gift.get("amount"), 10**9)
                  or ("expiry_days" in gift and not _positive(gift["expiry_days"], 3650))):
                errors.append({"field": field, "message": "bad_gift"})
            else:
                clean[occasion][tier] = gift
    if errors:
        raise InvalidInput(errors=errors)
    return {occasion: gifts for occasion, gifts in clean.items() if gifts}


def _positive(value, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= most


def holidays_of(conf) -> list[dict]:
    return list(conf.holidays) or BUILT_IN_HOLIDAYS
