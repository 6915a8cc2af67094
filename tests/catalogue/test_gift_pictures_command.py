"""`vafa gift_pictures fetch`: the addresses gifts had before uploads, fetched once through the checked opener,
checked as an upload is and stored here; what cannot be fetched or is not a picture keeps its address."""

import io

import pytest
from django.core.management import call_command

from vafa.catalogue import services as catalogue
from vafa.catalogue.management.commands import gift_pictures
from vafa.catalogue.models import Gift

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_fetch_stores_pictures_and_keeps_what_it_cannot(business, settings, tmp_path, monkeypatch):
    settings.MEDIA_DIR = tmp_path / "media"
    answers = {"https://cdn.example/mug.png": PNG, "https://cdn.example/page.html": b"<html><script>x</script>"}

    def fake_download(url, limit):
        if url not in answers:
            raise OSError("unreachable")
        return answers[url][: limit + 1]

    monkeypatch.setattr(gift_pictures, "download", fake_download)
    made = {url: catalogue.create_gift(business, title=url[-8:], price_currency="points", price=10, picture=url)
            for url in [*answers, "https://gone.example/x.png"]}
    local = catalogue.create_gift(business, title="here", price_currency="points", price=10, picture="/static/x.png")
    out = io.StringIO()
    call_command("gift_pictures", "fetch", "--business", business.slug, stdout=out)
    pictures = dict(Gift.objects.values_list("pk", "picture"))
    stored = pictures[made["https://cdn.example/mug.png"].pk]
    assert stored.startswith("/media/gifts/") and (settings.MEDIA_DIR / "gifts" / stored[13:]).read_bytes() == PNG
    assert pictures[made["https://cdn.example/page.html"].pk] == "https://cdn.example/page.html"
    assert pictures[made["https://gone.example/x.png"].pk] == "https://gone.example/x.png"
    assert pictures[local.pk] == "/static/x.png"
    assert "not_an_image" in out.getvalue() and "OSError" in out.getvalue()


def test_download_never_reaches_a_private_address(settings):
    from vafa.webhooks.addresses import AddressNotAllowed

    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(OSError) as refused:  # urllib's URLError, an OSError: the command keeps the address
        gift_pictures.download("http://127.0.0.1:9/x.png", 10)
    assert isinstance(refused.value.reason, AddressNotAllowed)
