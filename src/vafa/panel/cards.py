"""The printable member card (F5): the business's name, the member's name, number, a QR code (segno) and a
Code 128 barcode (python-barcode), both as inline SVG on a page sized for a CR80 card, printed or saved as
PDF by the browser (which shapes Persian text properly, unlike a server-side raster)."""

import io

import barcode
import segno
from barcode.writer import SVGWriter
from django.shortcuts import render

from vafa.access.models import Scope
from vafa.core.errors import NotFound
from vafa.members.models import Card
from vafa.panel.auth import panel_view


def qr_svg(text: str) -> str:
    return segno.make(text, error="m").svg_inline(scale=4, border=0)


def barcode_svg(number: str) -> str:
    out = io.BytesIO()
    barcode.get("code128", number, writer=SVGWriter()).write(out, options={
        "module_height": 8, "module_width": 0.25, "quiet_zone": 1, "write_text": False, "compress": False})
    svg = out.getvalue().decode()
    # Inline in the page (no XML prolog or doctype), stretched to the card's width: bars scale evenly.
    return svg[svg.index("<svg"):].replace("<svg ", '<svg preserveAspectRatio="none" ', 1)


@panel_view(Scope.READ)
def card_print(request, member_id: int, number: str):
    card = (Card.objects.filter(business=request.business, member_id=member_id, number=number)
            .select_related("member").first())
    if card is None:
        raise NotFound("card_not_found")
    return render(request, "panel/members/card.html", {"card": card, "member": card.member,
                                                       "qr": qr_svg(card.number), "barcode": barcode_svg(card.number)})
