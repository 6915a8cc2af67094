"""The program a new business starts with: simple points by amount, tiers, a loyalty table. Points wait out a
return window (pending_days) before they can be spent or converted, so a purchase cancelled after its points
were spent cannot keep their value."""

RETURN_WINDOW_DAYS = 14


def starter_document(language: str = "fa", currency: str = "IRT") -> dict:
    per = {"IRT": 100_000, "IRR": 1_000_000}.get(currency, 1_000)  # 100,000 Toman; 10.00 in cent currencies
    return {
        "name": {"fa": "باشگاه مشتریان", "en": "Customer club"},
        "settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": RETURN_WINDOW_DAYS}}},
        "rules": [
            {"id": "base", "kind": "earn", "name": {"fa": "امتیاز خرید", "en": "Purchase points"},
             "per": per, "award": 10},
        ],
        "tiers": {
            "basis": "spend", "window_days": 365, "review_every_days": 30,
            "levels": [
                {"code": "bronze", "name": {"fa": "برنزی", "en": "Bronze"}, "threshold": 0},
                {"code": "silver", "name": {"fa": "نقره‌ای", "en": "Silver"}, "threshold": per * 50,
                 "multiplier": "1.5"},
                {"code": "gold", "name": {"fa": "طلایی", "en": "Gold"}, "threshold": per * 200, "multiplier": 2,
                 "discount_percent": 5},
            ],
        },
        "loyalty_table": {"rates": [{"name": {"fa": "نرخ پایه", "en": "Base rate"}, "points": 100,
                                     "value": per // 10}]},
    }
