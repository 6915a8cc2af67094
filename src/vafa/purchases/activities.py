"""Visits and custom events, in the purchase's shape (issue 11): load → decide → write.

- Load: one round trip (core.sql.read_all): the member's row lock with the business's cache token, and one
  statement (counters.Load): the counters the program reads, the member's accounts and the business's own, the
  lots due by the activity's moment, and the id its row will have.
- Decide: the engine in pure code (evaluate), a closed club's admission (the visit counted before its row is
  written), the tier the visit reaches, the balances it leaves.
- Write: one core.sql.WritePlan — the Visit or ActivityEvent row with its answer, the ledger's credits, the
  effects, the counters and the outbox events — handed to run_use_case with the audit row and the key's answer
  (core.usecase.write_last): one round trip on PostgreSQL. The rare parts the purchase also writes through the
  ORM at once still do, before the plan: a reward issued (its row refers to the activity's, which is then
  written first and its answer by an UPDATE), a candidate admitted, a tier changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, TypedDict, cast

from django.db import connection

from vafa.core.actor import SYSTEM, Actor
from vafa.core.errors import Conflict, InvalidInput
from vafa.core.sql import WritePlan, read_all, row_of
from vafa.core.usecase import run_use_case, write_last
from vafa.members.locks import lock_statement, member_of
from vafa.members.models import Member
from vafa.outbox.services import batched, emit, into_plan
from vafa.program import cache
from vafa.program.engine import Activity, Effect, evaluate
from vafa.program.selectors import context_of
from vafa.purchases import counters
from vafa.purchases.admission import admit_if_qualified
from vafa.purchases.models import ActivityEvent, Visit
from vafa.purchases.selectors import member_snapshot
from vafa.purchases.services import (
    _apply_effects,
    _clean_units,
    _effect_json,
    _member_result,
    _moment,
    upgrade_if_qualified,
)

MODELS: dict[str, type[Visit] | type[ActivityEvent]] = {"visit": Visit, "event": ActivityEvent}


@dataclass(frozen=True)
class ActivityInput:
    """A visit (check-in) or a custom event, as a channel asks for it."""

    kind: Literal["visit", "event"]
    member_id: int
    occurred_at: dt.datetime | None = None
    branch_code: str | None = None  # a visit's
    units: dict | None = None  # a visit's: km, sessions …
    note: str = ""  # a visit's
    name: str | None = None  # an event's: survey_completed, social_share …
    data: dict | None = None  # an event's


class ActivityResult(TypedDict, total=False):
    """A visit's or an event's answer, as stored in its row and replayed (VisitOut, EventOut: its API shapes).
    `visit_id` or `event_id` by kind; `club` only for a closed club's candidate or the visit that admitted them."""

    id: int
    visit_id: int
    event_id: int
    program_version: int
    effects: list[dict]
    member_id: int
    tier: str | None
    balance: dict[str, dict[str, int]]
    club: dict
    replayed: bool


def record_activity(business, order: ActivityInput, *, idempotency_key: str | None = None,
                    actor: Actor = SYSTEM) -> ActivityResult:
    """Record a visit or an event and answer its effects and the member's balances after it."""
    kind = order.kind
    errors: list[dict] = []
    clean_units = _clean_units(order.units, errors)
    when = _moment(order.occurred_at, "occurred_at", errors)
    branch = None
    if order.branch_code:
        branch = cache.branch_of(business, order.branch_code)
        if branch is None:
            errors.append({"field": "branch", "message": "unknown_branch"})
    name = order.name
    if kind == "event" and (not isinstance(name, str) or not name.strip() or len(name) > 64):
        errors.append({"field": "name", "message": "required"})
    elif isinstance(name, str):
        name = name.strip()  # matched against the rules as it is stored (the fingerprint keeps it as sent)
    if errors:
        raise InvalidInput(errors=errors)
    request = {"kind": kind, "member_id": order.member_id, "at": when.isoformat() if order.occurred_at else None,
               "branch": order.branch_code, "units": clean_units, "name": order.name, "data": order.data,
               "note": order.note}
    model = MODELS[kind]
    setup = cache.setup_of(business)  # confirmed by the token read with the member (program.cache)
    ctx = context_of(business)

    def use_case() -> dict:
        with batched():  # the outbox events into the plan
            return write(*load())

    def load() -> tuple[Member, cache.Setup, counters.Loaded]:
        # the member's lock and the load in one round trip, the load built with the cached program; built and
        # read again when the lock's cache token says the program changed
        pending = counters.Load(business.pk, order.member_id, setup.document, when, ctx, None, take_id=True,
                                table=model._meta.db_table)
        locked, rows = read_all([lock_statement(order.member_id, business.pk, token=True),
                                 (pending.sql, pending.params)])
        member = member_of(locked, token=True)
        if member.status == Member.Status.BLOCKED:
            raise Conflict("member_blocked")
        current = cache.setup_of(business, member.cache_token)
        if current is not setup:
            pending = counters.Load(business.pk, member.pk, current.document, when, ctx, None, take_id=True,
                                    table=model._meta.db_table)
            [rows] = read_all([(pending.sql, pending.params)])
        return member, current, pending.finish(member, rows)

    def write(member: Member, current: cache.Setup, loaded: counters.Loaded) -> dict:
        # decide: the engine, in pure code; a visit counts towards a closed club's entry before its row is written
        document, version, before = current.document, current.version.version, loaded.standing
        snapshot = member_snapshot(member, document, when, before)
        effects = evaluate(document, snapshot, Activity(kind, when, branch=order.branch_code, units=clean_units,
                                                        event=name), ctx)
        changes = counters.Changes(business.pk)
        club = None
        if kind == "visit":
            changes.add(member.pk, counters.VISITS, when, 1)
            club = admit_if_qualified(member, document, when, unwritten={"visits": 1})
        if member.status == Member.Status.CANDIDATE:
            effects = []  # a closed club's candidate: the activity counts, nothing is earned yet
        fields = {"business_id": business.pk, "member_id": member.pk, "occurred_at": when,
                  "program_version": version, **actor.fields()}
        if kind == "visit":
            fields |= {"branch_id": branch.pk if branch else None, "units": clean_units, "note": order.note[:200]}
        else:
            fields |= {"name": name, "data": order.data or {}}
        row = model(pk=loaded.purchase_id, **fields)  # its id taken by the load: the rows below refer to it
        # write: one plan, the row first; a reward issued (rare) is written through the ORM at once and refers to
        # the row, which is then written before it
        plan = WritePlan()
        early = any(effect.kind == "reward" for effect in effects)
        if early:
            plan.insert(model, [row_of(row)], with_id=True)
            plan.write()
        _apply_effects(member, effects, document, version, when, actor, changes, plan,
                       visit=row if kind == "visit" else None, event=row if kind == "event" else None)
        if kind == "visit" and member.status != Member.Status.CANDIDATE:
            upgrade_if_qualified(member, document, when, actor, before, changes)
        changes.write(plan)
        result = {"id": row.pk, f"{kind}_id": row.pk, "program_version": version,
                  "effects": [_effect_json(e) for e in effects]} | _member_result(
            member, when, club, balances_after(loaded.balances, effects))
        emit(business.pk, f"{kind}.recorded", {f"{kind}_id": row.pk, "member_id": member.pk})
        if early:
            plan.add(f"UPDATE {model._meta.db_table} SET result = %s WHERE business_id = %s AND id = %s",
                     [_result_field(model).get_db_prep_save(result, connection), business.pk, row.pk])
        else:
            row.result = result
            written = plan.insert(model, [row_of(row)], with_id=True)
            assert written is not None
            plan.statements.remove(written)
            plan.statements.insert(0, written)  # first: every row referring to it finds it at once
        into_plan(plan)
        write_last(plan)  # with the audit row and the key's answer (run_use_case)
        return result

    result, replayed = run_use_case(business, kind, request, use_case, actor=actor, key=idempotency_key,
                                    object_type=kind, object_id=f"{kind}_id")
    # answers stored before `id` lacked it
    return cast(ActivityResult, {"id": result[f"{kind}_id"]} | result | {"replayed": replayed})


def balances_after(before: dict[str, dict[str, int]], effects: list[Effect]) -> dict[str, dict[str, int]]:
    """The member's balances once the activity's plan is written, from those loaded as of its moment: what it
    earns is available at once (an activity has no return window)."""
    after = {currency: dict(held) for currency, held in before.items()}
    for effect in effects:
        if effect.kind in ("earn", "cashback") and effect.amount > 0 and effect.currency:
            after.setdefault(effect.currency, {"available": 0, "pending": 0})["available"] += effect.amount
    return after


def _result_field(model):
    return model._meta.get_field("result")


def check_in(business, *, member_id: int, branch_code: str | None = None, occurred_at: dt.datetime | None = None,
             units: dict | None = None, note: str = "", idempotency_key: str | None = None,
             actor: Actor = SYSTEM) -> ActivityResult:
    """A visit (check-in) for programs that reward coming, not spending: clinics, schools, gyms."""
    return record_activity(business, ActivityInput("visit", member_id, occurred_at, branch_code, units, note),
                           idempotency_key=idempotency_key, actor=actor)


def record_event(business, *, member_id: int, name: str, data: dict | None = None,
                 occurred_at: dt.datetime | None = None, idempotency_key: str | None = None,
                 actor: Actor = SYSTEM) -> ActivityResult:
    """A custom activity (survey_completed, social_share, newsletter_signup …) that event rules may reward."""
    return record_activity(business, ActivityInput("event", member_id, occurred_at, name=name, data=data),
                           idempotency_key=idempotency_key, actor=actor)
