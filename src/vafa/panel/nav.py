"""The sidebar: one entry per screen, shown only to operators whose role may open it (the same check the view
makes). Part 2's screens (program, rewards, import, reports) add their entries here."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from vafa.access.permissions import Forbidden


@dataclass(frozen=True)
class NavEntry:
    url_name: str
    label: str
    icon: str
    scope: str = "read"
    area: str | None = None
    whole_business: bool = False  # a business-wide read: not for an operator bound to branches


NAV = [
    NavEntry("panel:dashboard", _("Dashboard"), "▦"),
    NavEntry("panel:members", _("Members"), "☺"),
    NavEntry("panel:purchases", _("Purchases"), "≡"),
    NavEntry("panel:program", _("The program"), "★"),
    NavEntry("panel:vouchers", _("Rewards"), "♦", scope="admin"),
    NavEntry("panel:gift_requests", _("Gift requests"), "✉", scope="write"),
    NavEntry("panel:import", _("Import"), "⇪", scope="admin"),
    NavEntry("claims:list", _("Purchase claims"), "✎"),
    NavEntry("sync_problems:list", _("Sync problems"), "⚠"),
    NavEntry("panel:reports", _("Reports"), "▥"),
    NavEntry("panel:setup_handbook", _("Loyalty table"), "▤"),
    NavEntry("panel:setup", _("Set up the club"), "✓", scope="admin", area="program"),
    NavEntry("panel:settings", _("Settings"), "⚙", scope="admin"),
    NavEntry("panel:messaging", _("Messaging"), "✆", whole_business=True),
]


def entries_for(principal) -> list[NavEntry]:
    shown = []
    for entry in NAV:
        try:
            principal.require(entry.scope, entry.area, whole_business=entry.whole_business)
        except Forbidden:
            continue
        shown.append(entry)
    return shown
