"""Club types, read-only: subscriptions and donations move money in the ledger, so they change only through
the services (API); causes and partnerships too, so their rules are checked in one place."""

from django.contrib import admin

from vafa.clubs.models import Cause, Donation, Partnership, Subscription
from vafa.ledger.admin import MEMBER_SEARCH, ReadOnlyAdmin


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("member", "business", "plan", "price", "payment", "starts_at", "ends_at", "auto_renew",
                    "status")
    list_filter = ("business", "plan", "status")
    search_fields = MEMBER_SEARCH


@admin.register(Cause)
class CauseAdmin(ReadOnlyAdmin):
    list_display = ("name", "code", "business", "goal", "active")
    list_filter = ("business", "active")


@admin.register(Donation)
class DonationAdmin(ReadOnlyAdmin):
    list_display = ("member", "cause", "business", "points", "created_at")
    list_filter = ("business", "cause")
    search_fields = MEMBER_SEARCH


@admin.register(Partnership)
class PartnershipAdmin(ReadOnlyAdmin):
    list_display = ("business", "partner", "consented_at", "ended_at")
