"""The demo: a Persian café chain («کافه وفا») with a year of realistic, deterministic history.

Everything is planned first with one `random.Random(seed)` (no database reads), then played back in time
order through the service functions only (sign_up, issue_card, record_purchase, return_purchase,
cancel_purchase, check_in, record_event) with past timestamps, so the ledger is exactly what the real system
would have written. Pending points become spendable after the 7-day return window and lots expire at their
minute whenever the jobs run: every read counts them in as of its moment and every spend writes them down first
(ledger.services.settle_due_lots), so the periodic ledger jobs run once, at the end, not once a simulated day.
The generator reads a member's balances as of the purchase it plans, never as of today: points still pending
then are not spendable then.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from vafa.access.models import Role
from vafa.access.services import create_api_key, make_operator, principal_for_key
from vafa.clubs.services import create_cause
from vafa.jobs.services import run_due
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry
from vafa.members.balances import expire_lots, release_pending
from vafa.members.models import Card, Member
from vafa.members.selectors import balance_read
from vafa.members.services import CardIssue, issue_card, sign_up
from vafa.messaging.services import update_settings
from vafa.program.engine import current_rate, member_promotions
from vafa.program.selectors import active_program, context_of
from vafa.program.services import activate_program
from vafa.purchases.activities import check_in, record_event
from vafa.purchases.models import ActivityEvent, Purchase, Return, Visit
from vafa.purchases.services import cancel_purchase, record_purchase, return_purchase
from vafa.purchases.tasks import review_tiers
from vafa.tenancy.models import Branch, Business
from vafa.tenancy.services import create_branch, create_business

DEMO_SLUG = "cafe-vafa"
DEMO_NAME = "کافه وفا"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "vafa-demo-1234"
PROGRAM_FILE = Path(__file__).with_name("cafe_program.yaml")
TEHRAN = ZoneInfo("Asia/Tehran")
HISTORY_DAYS = 365

BRANCHES = [
    # code, receipt prefix, name, address, share of the traffic
    ("tajrish", "TJ", "شعبه تجریش", "تهران، میدان تجریش، خیابان شهرداری، کوچه سعیدی، پلاک ۱۲", 35),
    ("vanak", "VN", "شعبه ونک", "تهران، میدان ونک، خیابان ملاصدرا، نبش شیراز جنوبی، پلاک ۴۵", 40),
    ("enghelab", "EN", "شعبه انقلاب", "تهران، خیابان انقلاب، روبه‌روی سردر دانشگاه تهران، پلاک ۱۱۸۰", 25),
]

FEMALE_NAMES = [
    "مریم", "فاطمه", "زهرا", "سارا", "نگار", "الهام", "نرگس", "مهسا", "سمیرا", "لیلا", "شیما", "پریسا",
    "نازنین", "آزاده", "سپیده", "مینا", "هانیه", "ریحانه", "یاسمن", "ترانه", "کیمیا", "شقایق", "رویا",
    "بهاره", "ستاره", "نیلوفر", "الناز", "مهتاب", "آیدا", "پرستو",
]
MALE_NAMES = [
    "علی", "محمد", "حسین", "رضا", "امیر", "مهدی", "سعید", "حمید", "مجید", "بهزاد", "کامران", "آرش", "سینا",
    "پویا", "نیما", "فرهاد", "بابک", "امید", "کیوان", "میلاد", "پارسا", "آرمان", "سهیل", "عرفان", "مسعود",
    "داریوش", "بردیا", "یاسر", "هومن", "شهاب",
]
LAST_NAMES = [
    "رضایی", "محمدی", "حسینی", "احمدی", "کریمی", "موسوی", "جعفری", "صادقی", "رحیمی", "هاشمی", "نوری",
    "قاسمی", "کاظمی", "ابراهیمی", "اکبری", "طاهری", "عباسی", "یوسفی", "شریفی", "نجفی", "سلطانی", "فرهادی",
    "تهرانی", "شیرازی", "اصفهانی", "مرادی", "زمانی", "بهرامی", "پاکزاد", "کیانی", "امینی", "رستمی",
    "نیک‌نام", "فاضلی", "ملکی", "صالحی", "جهانگیری", "خسروی", "میرزایی", "عزیزی",
]
JOBS = [
    "مهندس نرم‌افزار", "معلم", "دانشجو", "پزشک", "طراح گرافیک", "کارمند بانک", "وکیل", "معمار", "پرستار",
    "حسابدار", "عکاس", "فروشنده", "مدیر فروش", "نویسنده", "مترجم", "داروساز", "کارآفرین", "بازیگر",
]
EDUCATION = ["دیپلم", "کاردانی", "کارشناسی", "کارشناسی ارشد", "دکتری"]
INTERESTS = [
    "قهوه", "کتاب", "موسیقی", "سینما", "ورزش", "سفر", "عکاسی", "آشپزی", "بازی‌های رومیزی", "هنر", "تئاتر",
    "کوهنوردی",
]
JOIN_SOURCES = [("اینستاگرام", 35), ("معرفی دوستان", 25), ("حضوری", 30), ("وب‌سایت", 10)]
MOBILE_PREFIXES = ["0912", "0935", "0901", "0919", "0936", "0912", "0935"]
EVENT_NIGHTS = ["شب موسیقی زنده", "شب شعر", "کارگاه دم‌آوری قهوه", "شب بازی‌های رومیزی", "جلسه کتاب‌خوانی"]

# sku, name, category, unit price in Toman
MENU = [
    ("CF-ESP", "اسپرسو", "coffee", 85_000),
    ("CF-AME", "آمریکانو", "coffee", 95_000),
    ("CF-TRK", "قهوه ترک", "coffee", 105_000),
    ("CF-CAP", "کاپوچینو", "coffee", 135_000),
    ("CF-LAT", "لاته", "coffee", 145_000),
    ("CF-FLW", "فلت وایت", "coffee", 150_000),
    ("CF-MOC", "موکا", "coffee", 165_000),
    ("CF-CRM", "کارامل ماکیاتو", "coffee", 175_000),
    ("TE-BLK", "چای سیاه", "tea", 85_000),
    ("TE-GRN", "چای سبز", "tea", 90_000),
    ("TE-HRB", "دمنوش به‌لیمو", "tea", 110_000),
    ("TE-MSL", "چای ماسالا", "tea", 140_000),
    ("TE-SAF", "چای زعفرانی", "tea", 150_000),
    ("PS-COO", "کوکی", "pastry", 90_000),
    ("PS-CRO", "کروسان کره‌ای", "pastry", 120_000),
    ("PS-MUF", "مافین بلوبری", "pastry", 140_000),
    ("PS-CAR", "کیک هویج", "pastry", 155_000),
    ("PS-CHO", "کیک شکلاتی", "pastry", 165_000),
    ("PS-CHS", "چیزکیک", "pastry", 195_000),
    ("PS-TIR", "تیرامیسو", "pastry", 210_000),
    ("FD-OML", "املت", "food", 240_000),
    ("FD-SCK", "ساندویچ مرغ", "food", 290_000),
    ("FD-PAN", "پنینی بوقلمون", "food", 310_000),
    ("FD-SAL", "سالاد سزار", "food", 350_000),
    ("FD-BRK", "صبحانه انگلیسی", "food", 380_000),
    ("FD-PAS", "پاستا آلفردو", "food", 420_000),
    ("FD-BRG", "برگر کافه", "food", 450_000),
    ("CD-IAM", "آیس‌آمریکانو", "cold-drinks", 120_000),
    ("CD-LEM", "لیموناد", "cold-drinks", 130_000),
    ("CD-ILT", "آیس‌لاته", "cold-drinks", 160_000),
    ("CD-SMO", "اسموتی توت‌فرنگی", "cold-drinks", 185_000),
    ("CD-FRP", "فراپه", "cold-drinks", 195_000),
    ("CD-SHK", "شیک شکلات", "cold-drinks", 210_000),
]
BY_CATEGORY: dict[str, list[tuple]] = {}
for _item in MENU:
    BY_CATEGORY.setdefault(_item[2], []).append(_item)

# (hour, weight) of the café's day, Tehran time: a morning rush, lunch and a long afternoon.
HOURS = [(8, 2), (9, 4), (10, 4), (11, 3), (12, 4), (13, 5), (14, 3), (15, 4), (16, 5), (17, 5), (18, 5),
         (19, 4), (20, 3), (21, 2), (22, 1)]

# persona, share, days between purchases (low, high). Like most café clubs, about half the members came once;
# the regulars (and a few big spenders who bring the office) are the core that reaches silver and gold. The
# volume (about 6,000 purchases for 2,000 members) keeps generation to a few minutes: every purchase goes
# through the real services, about 30 queries each, and its points are released by the job a week later.
PERSONAS = [
    ("regular", 5, (7, 14)),
    ("occasional", 17, (30, 75)),
    ("big_spender", 3, (25, 50)),
    ("churned", 6, (10, 25)),
    ("one_timer", 50, (0, 0)),
    ("no_show", 19, (0, 0)),
]

RETURN_SHARE = 0.02
CANCEL_SHARE = 0.004
REDEEM_INTENT = 0.2


class DemoError(RuntimeError):
    """The demo data could not be generated consistently (the ledger check found problems)."""


@dataclass
class DemoResult:
    business: object
    created: bool
    members: int = 0
    purchases: int = 0
    returns: int = 0
    cancellations: int = 0
    visits: int = 0
    events: int = 0
    cards: int = 0
    entries: int = 0
    purchase_total: int = 0
    seconds: float = 0.0
    tiers: dict[str, int] = field(default_factory=dict)


# --- the program ---------------------------------------------------------------------------------------


def program_document() -> dict:
    return yaml.safe_load(PROGRAM_FILE.read_text(encoding="utf-8"))


# --- planning (pure, deterministic) -------------------------------------------------------------------


@dataclass
class _Member:
    index: int
    mobile: str
    profile: dict
    joined_at: dt.datetime
    persona: str
    home: str
    card_kind: str | None
    member_id: int | None = None
    member: object = None
    # The currencies the member held anything of (available or pending) as their last activity's answer said
    # (none at sign-up), or None when unknown. A currency held at none then is held at none later, until the
    # member's next activity: the generator needs no read of the balances to know it.
    held: set[str] | None = None


@dataclass
class _Purchase:
    key: int
    member: _Member
    at: dt.datetime
    branch: str
    lines: list[dict]
    channel: str
    redeem: float  # 0 = pay in cash; otherwise the share of the redeemable points to use
    use_wallet: bool
    purchase_id: int | None = None

    @property
    def total(self) -> int:
        return sum(line["quantity"] * line["unit_price"] for line in self.lines)


def _weighted(rng: random.Random, pairs: list[tuple]) -> object:
    return rng.choices([p[0] for p in pairs], weights=[p[-1] for p in pairs])[0]


def _moment_on(rng: random.Random, day: dt.date) -> dt.datetime:
    hour = _weighted(rng, HOURS)
    return dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=TEHRAN)


def _profile(rng: random.Random, today: dt.date, used: set[str]) -> tuple[str, dict]:
    female = rng.random() < 0.5
    profile: dict = {
        "first_name": rng.choice(FEMALE_NAMES if female else MALE_NAMES),
        "last_name": rng.choice(LAST_NAMES),
        "join_source": _weighted(rng, JOIN_SOURCES),
    }
    while True:
        mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10_000_000):07d}"
        if mobile not in used:
            used.add(mobile)
            break
    if rng.random() < 0.85:
        profile["gender"] = "female" if female else "male"
    if rng.random() < 0.55:
        age_days = rng.randrange(18 * 365, 62 * 365)
        profile["birth_date"] = today - dt.timedelta(days=age_days)
    if rng.random() < 0.1:
        profile["anniversary"] = today - dt.timedelta(days=rng.randrange(200, 20 * 365))
    if rng.random() < 0.4:
        profile["job"] = rng.choice(JOBS)
    if rng.random() < 0.25:
        profile["education"] = rng.choice(EDUCATION)
    if rng.random() < 0.45:
        profile["interests"] = rng.sample(INTERESTS, rng.randint(1, 3))
    return mobile, profile


def _drink(rng: random.Random, day: dt.date) -> tuple:
    summer = day.month in (6, 7, 8, 9)
    category = _weighted(rng, [("coffee", 60), ("tea", 18), ("cold-drinks", 30 if summer else 8)])
    return rng.choice(BY_CATEGORY[category])


def _basket(rng: random.Random, persona: str, day: dt.date) -> list[dict]:
    items: dict[str, list] = {}

    def add(item: tuple, quantity: int = 1) -> None:
        if item[0] in items:
            items[item[0]][1] += quantity
        else:
            items[item[0]] = [item, quantity]

    people = rng.randint(3, 9) if persona == "big_spender" else (1 if rng.random() < 0.7 else 2)
    for _ in range(people):
        add(_drink(rng, day))
        if rng.random() < (0.5 if persona == "big_spender" else 0.35):
            add(rng.choice(BY_CATEGORY["pastry"]))
        if rng.random() < (0.45 if persona == "big_spender" else 0.15):
            add(rng.choice(BY_CATEGORY["food"]))
    return [{"sku": item[0], "name": item[1], "category": item[2], "quantity": quantity, "unit_price": item[3]}
            for item, quantity in items.values()]


def _plan(rng: random.Random, count: int, now: dt.datetime) -> tuple[list[_Member], list[tuple]]:
    """The members and every dated happening, sorted: (at, order, kind, data)."""
    today = now.astimezone(TEHRAN).date()
    start = now - dt.timedelta(days=HISTORY_DAYS)
    last = now - dt.timedelta(minutes=5)
    used: set[str] = set()
    members: list[_Member] = []
    happenings: list[tuple] = []
    order = 0

    def add(at: dt.datetime, kind: str, data) -> None:
        nonlocal order
        if at <= last:
            happenings.append((at, order, kind, data))
            order += 1

    purchase_key = 0
    for index in range(count):
        mobile, profile = _profile(rng, today, used)
        persona = _weighted(rng, [(p[0], p[1]) for p in PERSONAS])
        gaps = next(p[2] for p in PERSONAS if p[0] == persona)
        # The club opened a year ago with a launch campaign: a third of the members joined in its first
        # two months, the rest steadily since.
        offset = rng.uniform(300, HISTORY_DAYS - 1) if rng.random() < 0.33 else rng.uniform(1, 300)
        join_day = (start + dt.timedelta(days=HISTORY_DAYS - offset)).astimezone(TEHRAN).date()
        joined_at = min(_moment_on(rng, join_day), last - dt.timedelta(hours=1))
        home = _weighted(rng, [(b[0], b[4]) for b in BRANCHES])
        card_kind = None
        if rng.random() < 0.6:
            card_kind = "magnetic" if rng.random() < 0.25 else "qr"
        member = _Member(index, mobile, profile, joined_at, persona, home, card_kind)
        members.append(member)
        add(joined_at, "join", member)

        # Purchase dates: the first one right at sign-up (the counter signs people up as they pay), then a
        # rhythm that depends on the persona.
        moments: list[dt.datetime] = []
        if persona != "no_show":
            moments.append(joined_at + dt.timedelta(minutes=rng.randint(1, 6)))
        if persona == "one_timer" and rng.random() < 0.3:
            moments.append(_moment_on(rng, join_day + dt.timedelta(days=rng.randint(20, 120))))
        elif gaps[1]:
            stop = last
            if persona == "churned":
                stop = now - dt.timedelta(days=rng.uniform(60, 160))
            day = join_day
            while True:
                day += dt.timedelta(days=max(1, round(rng.uniform(*gaps) * rng.uniform(0.8, 1.25))))
                at = _moment_on(rng, day)
                if at > stop:
                    break
                moments.append(at)
        for at in moments:
            if at > last:
                continue
            branch = member.home if rng.random() < 0.85 else _weighted(rng, [(b[0], b[4]) for b in BRANCHES])
            local_day = at.astimezone(TEHRAN).date()
            purchase = _Purchase(
                purchase_key, member, at, branch, _basket(rng, persona, local_day),
                "delivery" if rng.random() < 0.08 else "pos",
                rng.uniform(0.5, 1.0) if rng.random() < REDEEM_INTENT else 0.0,
                rng.random() < 0.5)
            purchase_key += 1
            add(at, "buy", purchase)
            roll = rng.random()
            if roll < CANCEL_SHARE:
                add(at + dt.timedelta(minutes=rng.randint(2, 25)), "cancel", purchase)
            elif roll < CANCEL_SHARE + RETURN_SHARE:
                single = len(purchase.lines) == 1 and purchase.lines[0]["quantity"] == 1
                whole = rng.random() < 0.4 or single
                add(at + dt.timedelta(hours=rng.uniform(0.5, 96)), "return",
                    (purchase, None if whole else rng.choice(purchase.lines)["sku"]))
            if rng.random() < 0.03:
                add(at + dt.timedelta(hours=rng.uniform(2, 72)), "survey",
                    (member, {"score": rng.choices([5, 4, 3, 2, 1], weights=[45, 30, 13, 7, 5])[0],
                              "via": rng.choice(["sms", "qr", "web"])}))
        if moments and rng.random() < 0.1:
            for _ in range(rng.randint(1, 4)):
                day = join_day + dt.timedelta(days=rng.randint(0, max(1, (today - join_day).days)))
                at = dt.datetime.combine(day, dt.time(rng.randint(18, 21), rng.randrange(60)), tzinfo=TEHRAN)
                if at > joined_at:
                    add(at, "visit", (member, rng.choice([b[0] for b in BRANCHES]), rng.choice(EVENT_NIGHTS)))

    happenings.sort(key=lambda h: (h[0], h[1]))
    return members, happenings


# --- playing the plan back through the services -----------------------------------------------------


def ensure_admin(business=None, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> bool:
    """The demo's staff login, created once: a superuser for the admin and the owner of the demo business.
    Answers whether it was created now."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    created = user is None
    if created:
        user = User.objects.create_superuser(username=username, email="", password=password)
    if business is not None:
        make_operator(business, user, role=Role.OWNER)
    return created


CASHIER_USERNAME = "cashier"


def sample_member_mobile(business) -> str:
    """A demo member's mobile in its local spelling (09…), for trying the member app; empty when there is none."""
    mobile = (Member.objects.filter(business=business, status=Member.Status.ACTIVE).order_by("id")
              .values_list("mobile", flat=True).first() or "")
    return mobile.replace("+98", "0", 1)


def ensure_cashier(business, password: str = ADMIN_PASSWORD) -> tuple[str, str]:
    """The demo's till sign-in: a cashier bound to the first branch, created once. Answers (username, branch
    code)."""
    branch = Branch.objects.filter(business=business).order_by("id").first()
    user = get_user_model().objects.filter(username=CASHIER_USERNAME).first()
    if user is None:
        user = get_user_model().objects.create_user(username=CASHIER_USERNAME, password=password)
        make_operator(business, user, role=Role.CASHIER, branches=[branch] if branch else [])
    return CASHIER_USERNAME, branch.code if branch else ""


def demo_api_key(business, data_dir) -> str:
    """An admin API key for the demo business. Only its hash is in the database, so the key itself is kept in
    the data directory (readable by its owner only) to be printed again on the next start."""
    path = Path(data_dir) / "demo-api-key.txt"
    if path.exists():
        key = path.read_text().strip()
        principal = principal_for_key(key)
        if principal is not None and principal.business_id == business.pk:
            return key
    _, key = create_api_key(business, scope="admin", name="demo")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def _create_business(slug: str, name: str):
    business = create_business(name=name, slug=slug, currency="IRT", timezone="Asia/Tehran", language="fa",
                               calendar="jalali")
    for code, _prefix, branch_name, address, _share in BRANCHES:
        create_branch(business, code=code, name=branch_name, address=address)
    activate_program(business, program_document())  # raises InvalidInput if the document were wrong

    create_cause(business, code="trees", name="کاشت درخت در حاشیه تهران", goal=500_000,
                 description="هر ۱۰۰۰ امتیاز اهدایی، یک نهال در کمربند سبز تهران")
    return business


def _redeem(business, document, purchase: _Purchase) -> tuple[int, int]:
    """How many points and how much wallet credit this purchase pays with, given the member's balances."""
    wanted = {"points"} if purchase.redeem else set()
    if purchase.use_wallet:
        wanted.add("wallet")
    known = purchase.member.held
    if not wanted or (known is not None and not wanted & known):
        return 0, 0
    # the tier (the services may have moved it up since sign-up) and the balances as of the purchase (a lot
    # pending then is not spendable yet), in the balance read's one statement
    member, _, sheet, _ = balance_read(business.pk, purchase.member.member_id, purchase.at, 0)
    held = sheet["balances"]
    if held["points"]["available"] <= 0 and held["wallet"]["available"] <= 0:
        return 0, 0
    total = purchase.total
    # the demo posts no codes and sells no plans, so the tier discount is the only promotion
    promotions = member_promotions(document, member.tier or None, None, context_of(business))
    due = total - max((total * p.percent // 100 for p in promotions), default=0)
    points = 0
    if purchase.redeem:
        rate = current_rate(document, purchase.at.astimezone(TEHRAN).date())
        have = held["points"]["available"]
        if rate and rate.value and have >= 3 * rate.points:
            steps = min(int(have * purchase.redeem) // rate.points, due // rate.value)
            points = steps * rate.points
            due -= steps * rate.value
    wallet = 0
    if purchase.use_wallet and held["wallet"]["available"] > 0:
        wallet = min(held["wallet"]["available"], due)
    return points, wallet


def _quiet_outbox():
    """Delivering the outbox logs every event; a year of history would flood the terminal."""
    logger = logging.getLogger("vafa.outbox")
    level = logger.level
    logger.setLevel(logging.WARNING)
    return lambda: logger.setLevel(level)


def generate_demo(*, members: int = 2000, seed: int = 1403, slug: str = DEMO_SLUG, name: str = DEMO_NAME,
                  now: dt.datetime | None = None,
                  progress: Callable[[str], None] | None = None) -> DemoResult:
    """Create the demo business with `members` members and a year of history, once: when the slug exists
    nothing is written and the result says created=False. The same seed and `now` give the same data."""
    existing = Business.objects.filter(slug=slug).first()
    if existing is not None:
        return _counts(existing, created=False)
    started = time.monotonic()
    now = now or timezone.now()
    rng = random.Random(seed)
    planned, happenings = _plan(rng, members, now)
    restore_logging = _quiet_outbox()
    try:
        with transaction.atomic():
            business = _create_business(slug, name)
            _play(business, planned, happenings, now, progress)

            problems = check_ledger()
            if problems:
                raise DemoError("the ledger check failed after generating the demo:\n" + "\n".join(problems[:50]))
    finally:
        restore_logging()

    # Every SMS and one-time code from now on is a line of <data-dir>/messages.jsonl (the history is not told).
    update_settings(business, sms_provider="file", sms_sender="2000660110", price_per_part=1_200)
    result = _counts(business, created=True)
    result.seconds = time.monotonic() - started
    return result


def _play(business, planned: list[_Member], happenings: list[tuple], now: dt.datetime,
          progress: Callable[[str], None] | None) -> None:
    _, document = active_program(business)
    receipts = {b[0]: 0 for b in BRANCHES}
    prefixes = {b[0]: b[1] for b in BRANCHES}
    work = len(happenings)
    done = 0
    next_report = 1
    for at, _order, kind, data in happenings:
        if kind == "join":
            member = sign_up(business, mobile=data.mobile, joined_at=at, **data.profile)
            data.member, data.member_id, data.held = member, member.pk, set()
            if data.card_kind:
                issue_card(business, CardIssue.check(member.pk, kind=data.card_kind, at=at))
        elif kind == "buy":
            points, wallet = _redeem(business, document, data)
            receipts[data.branch] += 1
            result = record_purchase(
                business, member_id=data.member.member_id, branch_code=data.branch,
                receipt=f"{prefixes[data.branch]}-{receipts[data.branch]:06d}", total=data.total,
                occurred_at=at, channel=data.channel, lines=data.lines, redeem_points=points,
                redeem_wallet=wallet)
            data.purchase_id = result["purchase_id"]
            data.member.held = {currency for currency, held in result["balance"].items() if any(held.values())}
        elif kind == "cancel":
            data.member.held = None
            cancel_purchase(business, data.purchase_id, reason="لغو به درخواست مشتری", at=at)
        elif kind == "return":
            purchase, sku = data
            purchase.member.held = None
            if sku is None:
                return_purchase(business, purchase.purchase_id, amount=purchase.total, reason="مرجوعی کامل", at=at)
            else:
                return_purchase(business, purchase.purchase_id, lines=[{"sku": sku, "quantity": 1}],
                                reason="مرجوعی یک قلم", at=at)
        elif kind == "visit":
            member, branch, note = data
            member.held = None
            check_in(business, member_id=member.member_id, branch_code=branch, occurred_at=at, note=note)
        elif kind == "survey":
            member, answers = data
            member.held = None
            record_event(business, member_id=member.member_id, name="survey_completed", data=answers,
                         occurred_at=at)
        done += 1
        if progress and done * 10 >= next_report * work:
            progress(f"{next_report * 10}% ({done}/{work})")
            next_report += 1
    # Catch up to the present, then the regular periodic run: the last pending points are released, expired
    # lots expire, the tier review sets every member's tier to what the past year earned.
    # These three are called directly because run_due skips a job whose JobRun says it ran recently (another
    # demo generated in the same database a moment ago).
    release_pending(now)
    expire_lots(now)
    review_tiers(now)
    run_due(now)


def _counts(business, *, created: bool) -> DemoResult:
    members = Member.objects.filter(business=business)
    purchases = Purchase.objects.filter(business=business)
    returns = Return.objects.filter(business=business)
    tiers: dict[str, int] = {}
    for tier in members.values_list("tier", flat=True):
        tiers[tier] = tiers.get(tier, 0) + 1
    return DemoResult(
        business=business, created=created, members=members.count(), purchases=purchases.count(),
        returns=returns.filter(cancellation=False).count(), cancellations=returns.filter(cancellation=True).count(),
        visits=Visit.objects.filter(business=business).count(),
        events=ActivityEvent.objects.filter(business=business).count(),
        cards=Card.objects.filter(business=business).count(),
        entries=Entry.objects.filter(business=business).count(),
        purchase_total=purchases.aggregate(n=Sum("total"))["n"] or 0,
        tiers=dict(sorted(tiers.items())),
    )
