"""The periodic tier review: the only time a tier goes down."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM
from vafa.jobs.models import JobRun
from vafa.members.models import Member
from vafa.members.services import lock_member
from vafa.program.engine import qualified_tier
from vafa.program.selectors import active_program
from vafa.purchases.selectors import tier_metric
from vafa.purchases.services import change_tier
from vafa.tenancy.models import Business


def review_tiers(now: dt.datetime | None = None, force: bool = False) -> int:
    """For each business whose review is due, set every member's tier to what the rolling window earns:
    up or down. Answers how many members changed tier."""
    now = now or timezone.now()
    changed = 0
    for business in Business.objects.all():
        _, document = active_program(business)
        if not document.tiers:
            continue
        run, _ = JobRun.objects.get_or_create(name=f"tier_review:{business.pk}")
        if not force and run.last_finished_at and now - run.last_finished_at < dt.timedelta(
                days=document.tiers.review_every_days):
            continue
        # Read every member's metric without a lock, and lock only those whose tier moves: their metric is
        # read again under the lock, since a purchase or a return may have moved it in between.
        members = Member.objects.filter(business=business).values_list("id", "tier").order_by("id")
        for member_id, tier in members.iterator(chunk_size=2000):
            level = qualified_tier(document, tier_metric(Member(pk=member_id, business_id=business.pk), document, now))
            if not level or level.code == tier:
                continue
            with transaction.atomic():
                member = lock_member(member_id, business.pk)
                metric = tier_metric(member, document, now)
                level = qualified_tier(document, metric)
                if level and level.code != member.tier:
                    change_tier(member, level.code, metric, "review", now, SYSTEM)
                    changed += 1
        run.last_started_at = run.last_finished_at = now
        run.last_result = f"{changed} changed"
        run.save()
    return changed
