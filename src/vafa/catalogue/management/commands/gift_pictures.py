from django.core.management.base import BaseCommand, CommandError

from vafa.catalogue import services
from vafa.catalogue.models import Gift
from vafa.core.errors import InvalidInput, VafaError
from vafa.tenancy.selectors import business_by_slug
from vafa.webhooks.addresses import opener

TIMEOUT = 10  # seconds per picture


def download(url: str, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a public http(s) address, through the webhooks' checked opener: an address
    an operator typed never makes the server reach its own machine or private network."""
    with opener().open(url, timeout=TIMEOUT) as response:
        return response.read(limit + 1)


class Command(BaseCommand):
    help = ("Gift pictures given as addresses on other sites (before pictures were uploaded): `fetch --business "
            "SLUG` downloads each once, checks it as an upload is checked and stores it here; a picture that "
            "cannot be fetched or is not a PNG, JPEG or WebP of at most 1 MB keeps its address and is listed.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        fetch = sub.add_parser("fetch")
        fetch.add_argument("--business", required=True)

    def handle(self, *args, action, **o):
        try:
            business = business_by_slug(o["business"])
        except VafaError as exc:
            raise CommandError(str(exc.detail)) from exc
        for gift in Gift.objects.filter(business=business, picture__regex=r"^https?://").order_by("pk"):
            try:
                data = download(gift.picture, services.PICTURE_MAX_BYTES)
                services.set_gift_picture(business, gift.pk, data)
            except (OSError, ValueError) as exc:  # unreachable, refused address, bad URL
                self.stdout.write(f"gift {gift.pk}: kept {gift.picture} ({exc.__class__.__name__})")
            except InvalidInput as exc:  # not an image, too large
                self.stdout.write(f"gift {gift.pk}: kept {gift.picture} ({exc.errors[0]['message']})")
            else:
                self.stdout.write(f"gift {gift.pk}: stored")
