"""`vafa demo`: migrate, create (once) the Persian demo café with a year of history, print how to get in,
and serve it."""

import ipaddress
import sys
import time

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from vafa.core.schema import migrate
from vafa.demo.generator import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    DEMO_SLUG,
    DemoError,
    demo_api_key,
    ensure_admin,
    ensure_cashier,
    generate_demo,
    sample_member_mobile,
)


class Command(BaseCommand):
    help = "Create the demo business «کافه وفا» with a year of history (once) and serve Vafa."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1",
                            help="loopback only, unless --accept-public-password is given too")
        parser.add_argument("--accept-public-password", action="store_true",
                            help="serve on a non-loopback address although the demo's login and password are "
                                 "published (anyone who reaches it can log in as the owner)")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="create the data and print, but don't serve")
        parser.add_argument("--members", type=int, default=2000, help="how many members the demo gets")
        parser.add_argument("--seed", type=int, default=1403, help="the random seed: the same seed, the same data")

    def handle(self, *args, host, port, no_serve, members, seed, accept_public_password, **options):
        if members < 1:
            raise CommandError("--members must be at least 1")
        if not no_serve and not _loopback(host) and not accept_public_password:
            raise CommandError(f"--host {host} would let anyone who reaches it log in with the demo's published "
                               f"password ({ADMIN_USERNAME} / {ADMIN_PASSWORD}); serve it on 127.0.0.1, or add "
                               "--accept-public-password if that is what you want")
        migrate()  # a first start builds the empty database in one pass (vafa.core.schema)
        started = time.monotonic()

        def progress(message: str) -> None:
            self.stderr.write(f"  {message} — {time.monotonic() - started:.0f}s")
            sys.stderr.flush()

        exists = apps.get_model("tenancy", "Business").objects.filter(slug=DEMO_SLUG).exists()
        if not exists:
            self.stderr.write(f"Creating the demo café with {members} members and a year of history "
                              f"(seed {seed}) — ساخت داده‌های نمایشی …")
        try:
            result = generate_demo(members=members, seed=seed, progress=progress)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        if result.created:
            self.stderr.write(f"Done in {result.seconds:.0f}s.")
        ensure_admin(result.business)
        self._print(result, host, port, demo_api_key(result.business, settings.DATA_DIR), ensure_cashier(result.business),
                    sample_member_mobile(result.business))
        if not no_serve:
            call_command("serve", host=host, port=port)

    def _print(self, result, host: str, port: int, api_key: str, cashier: tuple[str, str], sample: str) -> None:
        base = f"http://{host}:{port}/"
        out = self.stdout.write
        out("")
        out("Vafa demo — دموی وفا" + ("" if result.created else "  (already created — از قبل ساخته شده)"))
        out(f"  Back office / پنل مدیریت:      {base}panel/")
        out(f"  Owner sign-in / ورود مالک:     {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
        out(f"  Till / صندوق:                  {base}till/{cashier[1]}/")
        out(f"  Cashier sign-in / ورود صندوقدار: {cashier[0]} / {ADMIN_PASSWORD}")
        out(f"  Business / کسب‌وکار:           {result.business.name} ({result.business.slug})")
        out(f"  Member app / اپ اعضا:          {base}m/{result.business.slug}/  (a member's mobile, e.g. "
            f"{sample}; the code is in the SMS file below)")
        out(f"  Site / سایت:                   {base}")
        out(f"  Platform admin / ادمین سامانه: {base}admin/")
        out(f"  API / رابط برنامه‌نویسی:        {base}api/v1/docs  (OpenAPI: {base}api/v1/openapi.json)")
        out(f"  Data directory / پوشه داده‌ها: {settings.DATA_DIR}")
        out(f"  SMS sent / پیامک‌ها:            {settings.DATA_DIR / 'messages.jsonl'}  (join: {base}join/"
            f"{result.business.slug}/)")
        out(f"  Members / اعضا:                {result.members:,}")
        out(f"  Purchases / خریدها:            {result.purchases:,}")
        out(f"  Ledger entries / سندهای دفتر:  {result.entries:,}")
        out(f"  API key / کلید API (admin):    {api_key}")
        out(f"  Try / امتحان کنید:             curl -H 'Authorization: Bearer {api_key}' {base}api/v1/business")
        out("")


def _loopback(host: str) -> bool:
    if host.strip("[]").lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
