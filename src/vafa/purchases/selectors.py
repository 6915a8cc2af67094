"""Reads about a member's activity: the engine's snapshot and the tier metric."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from vafa.program.document import ProgramDocument
from vafa.program.engine import MemberSnapshot, snapshot_needs
from vafa.purchases import counters
from vafa.purchases.counters import Standing
from vafa.purchases.models import IssuedReward, Purchase


def counted_purchases(member):
    return Purchase.objects.filter(business_id=member.business_id, member=member, status__in=Purchase.COUNTED)


def member_snapshot(member, document: ProgramDocument, at: dt.datetime, standing: Standing) -> MemberSnapshot:
    """What the engine knows of the member before this activity: `standing`, the counters (and the keys of the
    rewards they hold) read before it."""
    counts, rewards = snapshot_needs(document)
    return MemberSnapshot(
        tier=member.tier or None,
        purchase_count=standing.purchase_count if counts else 0,
        visit_count=standing.visit_count if counts else 0,
        period_totals=standing.period_totals,
        issued_rewards=standing.reward_keys if rewards else frozenset(),
        plan=member.plan_at(at),
    )


def tier_metric(member, document: ProgramDocument, at: dt.datetime) -> int:
    """The member's standing on the tier basis over the rolling window ending at `at`; returns included."""
    return counters.tier_metric(member, document, at)


# --- the rewards a member holds -------------------------------------------------------------------------

REWARD_STATUSES = ("available", "used", "expired", "revoked")


def reward_status(reward: IssuedReward, now: dt.datetime) -> str:
    """available, used, expired or revoked: an issued reward past its expiry is expired from that moment."""
    if reward.status == IssuedReward.Status.ISSUED:
        return "expired" if reward.expires_at is not None and reward.expires_at <= now else "available"
    return str(reward.status)


def usable_now(now: dt.datetime) -> Q:
    return Q(status=IssuedReward.Status.ISSUED) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def member_rewards(member, status: str | None = None, now: dt.datetime | None = None):
    """A member's rewards, newest first; `status` one of REWARD_STATUSES (None: all)."""
    now = now or timezone.now()
    rewards = IssuedReward.objects.filter(business_id=member.business_id, member=member)
    if status == "available":
        rewards = rewards.filter(usable_now(now))
    elif status == "expired":
        rewards = rewards.filter(status=IssuedReward.Status.ISSUED, expires_at__lte=now)
    elif status is not None:
        rewards = rewards.filter(status=status)
    return rewards.order_by("-issued_at", "-pk")


def reward_json(reward: IssuedReward, now: dt.datetime | None = None, language: str | None = None) -> dict:
    """What a reward gives, where and until when, and what became of it; its reason in `language` (default: the
    active one)."""
    terms = reward.terms or {}
    return {"id": reward.pk, "member_id": reward.member_id, "code": reward.reward_code, "name": reward.name,
            "status": reward_status(reward, now or timezone.now()), "gives": reward.gives,
            "sku": terms.get("sku"), "quantity": terms.get("quantity"), "amount": terms.get("amount"),
            "percent": terms.get("percent"), "max_discount": terms.get("max_discount"),
            "branches": list(reward.branches or []), "expires_at": reward.expires_at,
            "rule_id": reward.rule_id, "reason": reward.reason_in(language) if language else reward.reason, "issued_at": reward.issued_at,
            "purchase_id": reward.purchase_id, "visit_id": reward.visit_id, "used_at": reward.used_at,
            "used_purchase_id": reward.used_purchase_id, "used_branch": reward.used_branch or None,
            "revoked_at": reward.revoked_at}


def purchase_by_id(business, purchase_id: int) -> Purchase | None:
    return Purchase.objects.filter(business=business, pk=purchase_id).first()


def purchases(business, *, member_id: int | None = None, branch: str | None = None, receipt: str | None = None,
              branch_ids=None):
    """The business's purchases with their branch and lines, filtered as the API's list asks; `branch_ids`
    narrows them to a branch-bound caller's branches."""
    found = Purchase.objects.filter(business=business).select_related("branch").prefetch_related("lines")
    if member_id is not None:
        found = found.filter(member_id=member_id)
    if branch:
        found = found.filter(branch__code=branch)
    if receipt:
        found = found.filter(receipt=receipt)
    if branch_ids is not None:
        found = found.filter(branch_id__in=branch_ids)
    return found
