"""Referral rewards (F34) and operator commissions (F35), by the program's `referral` section."""

from __future__ import annotations

import datetime as dt
import functools

from django.db import connection
from django.utils import timezone

from vafa.core.actor import Actor
from vafa.core.reasons import Reason
from vafa.ledger.models import Entry
from vafa.ledger.services import credit
from vafa.members.locks import lock_member
from vafa.members.models import Commission, Member
from vafa.outbox.services import emit
from vafa.program.selectors import active_program


def _reward(member: Member, reward, reason: Reason, source: str, at: dt.datetime) -> None:
    if reward is None or reward.amount <= 0:
        return
    credit(member, reward.currency, reward.amount, reason=reason, at=at, source=source,
           expires_at=at + dt.timedelta(days=reward.expiry_days) if reward.expiry_days else None)


def _source(referee: Member, moment: str) -> str:
    return f"referral:{referee.pk}:{moment}"


def referee_rewards(referee: Member, document, moments: tuple[str, ...]) -> list[tuple[str, int]]:
    """What reward_referral would credit the referee now for each of `moments`, as (currency, amount), written
    nowhere: a dry run's (one read of the moments already rewarded)."""
    rules = document.referral
    reward = rules.referee if rules is not None else None
    if referee.referred_by_id is None or reward is None or reward.amount <= 0:
        return []
    due = [_source(referee, moment) for moment in moments if moment in rules.on]
    done = _rewarded(referee, due)
    return [(reward.currency, reward.amount) for source in due if source not in done]


@functools.cache
def _rewarded_sql(count: int, vendor: str) -> str:
    return (f"SELECT DISTINCT e.source FROM {connection.ops.quote_name(Entry._meta.db_table)} e "
            f"WHERE e.business_id = %s AND e.source IN ({', '.join(['%s'] * count)})")


def _rewarded(referee: Member, sources: list[str]) -> set[str]:
    """Which of the referral's `sources` are rewarded already: one hand-written read (a dry run's; the ORM's
    compiling cost more than the read), its text made once."""
    if not sources:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_rewarded_sql(len(sources), connection.vendor), [referee.business_id, *sources])
        return {source for (source,) in cursor.fetchall()}


def reward_referral(referee: Member, moment: str, at: dt.datetime | None = None) -> bool:
    """Reward the referrer and the new member for `moment` (signup or first_purchase), once each. The caller
    holds the referee's lock; the referrer (always the older member) is locked after it, so the order is fixed."""
    if referee.referred_by_id is None:
        return False
    _, document = active_program(referee.business)
    rules = document.referral
    if rules is None or moment not in rules.on:
        return False
    at = at or timezone.now()
    source = _source(referee, moment)

    if Entry.objects.filter(business_id=referee.business_id, source=source).exists():
        return False  # already rewarded
    _reward(referee, rules.referee, Reason("referral.referee"), source, at)
    referrer = lock_member(referee.referred_by_id, referee.business_id)
    name = referee.first_name or referee.code
    _reward(referrer, rules.referrer, Reason("referral.referrer", {"name": name}), source, at)
    emit(referee.business_id, "referral.rewarded", {"referrer_id": referrer.pk, "referee_id": referee.pk,
                                                    "moment": moment})
    return True


def record_commission(member: Member, actor: Actor, at: dt.datetime | None = None) -> Commission | None:
    """A commission for the operator who signed this member up, when the program pays one."""
    if actor.kind != "operator":
        return None
    _, document = active_program(member.business)
    amount = document.referral.operator_commission if document.referral else 0
    if amount <= 0:
        return None
    return Commission.objects.create(business_id=member.business_id, operator_id=actor.id,
                                     operator_label=actor.label, member=member, amount=amount,
                                     created_at=at or timezone.now())
