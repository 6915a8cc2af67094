"""Idempotent external writes: the same key with the same request returns the first answer; the same key with
another request is an error. The record is inserted first inside the use case's transaction, so a concurrent
duplicate waits on the unique index and then sees the committed answer."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from vafa.core.errors import Conflict, IdempotencyConflict
from vafa.core.models import IdempotencyRecord
from vafa.core.sql import WritePlan, first_statement, table


class SystemKey(str):
    """An idempotency key Vafa makes for itself (a WooCommerce order's refund, its cancellation). It is kept in
    its own namespace: a client's Idempotency-Key, whatever its text, never meets it."""


def namespace_of(key: str) -> str:
    return IdempotencyRecord.Namespace.SYSTEM if isinstance(key, SystemKey) else IdempotencyRecord.Namespace.CLIENT


def system_record(business, key: str) -> IdempotencyRecord | None:
    """The record of a key Vafa made for itself, if that write was done."""
    return IdempotencyRecord.objects.filter(business=business, namespace=IdempotencyRecord.Namespace.SYSTEM,
                                            key=key).first()


def fingerprint(operation: str, request: Any) -> str:
    return hashlib.sha256(_CANONICAL.encode([operation, request]).encode()).hexdigest()


# json.dumps(…, sort_keys=True, separators=(",", ":"), default=str), its encoder made once, not per call
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _replay(business, key: str, print_: str) -> dict | None:
    record = IdempotencyRecord.objects.filter(business=business, namespace=namespace_of(key), key=key).first()
    if record is None:
        return None
    if record.fingerprint != print_:
        raise IdempotencyConflict("idempotency_key_reused", key=key)
    if record.response is None:  # claimed by a bulk write still under way (run_idempotent_in_batches)
        raise Conflict("request_in_progress", key=key)
    return record.response


def _claim(business, key: str, operation: str, print_: str) -> IdempotencyRecord:
    """The key's record, without an answer yet; an IntegrityError when another request holds the key."""
    return IdempotencyRecord.objects.create(business=business, namespace=namespace_of(key), key=key,
                                            operation=operation, fingerprint=print_)


def outermost() -> bool:
    """No transaction is open: the use case's own is the outer one, and nothing may wrap it (durable)."""
    return not transaction.get_connection().in_atomic_block


class _Taken(Exception):
    """The key was already claimed: by an earlier request, or by one committed while the claim waited."""


class _Claim:
    """A key's claim as one statement: the record inserted without an answer, or nothing when the key already
    has one (ON CONFLICT DO NOTHING; a concurrent claim of the same key not yet committed makes it wait for that
    transaction's end, as the unique index did). Its id once answered (`pk`); `_Taken` when nothing was
    inserted."""

    def __init__(self, business, key: str, operation: str, print_: str):
        t = table(IdempotencyRecord)
        self.business_id = business.pk
        self.pk: int | None = None
        self.answered = False
        self.sql = t.insert_sql(1) + " ON CONFLICT (business_id, namespace, key) DO NOTHING RETURNING id"
        self.params = t.values({"business_id": business.pk, "namespace": namespace_of(key), "key": key,
                                "operation": operation, "fingerprint": print_})

    def answer(self, rows: list[tuple]) -> None:
        self.answered = True
        if not rows:
            raise _Taken
        self.pk = rows[0][0]


def answer_statement(business_id: int, record_id: int, response: dict) -> tuple[str, list]:
    """The UPDATE storing the key's answer, for a caller that sends it with its other writes (core.sql)."""
    return (f"UPDATE {IdempotencyRecord._meta.db_table} SET response = %s WHERE business_id = %s AND id = %s",
            [table(IdempotencyRecord).adapt("response", response), business_id, record_id])


def run_idempotent(business, key: str | None, operation: str, request: Any, use_case: Callable[[], dict], *,
                   write_last: Callable[[dict, tuple[str, list] | None], None] | None = None) -> tuple[dict, bool]:
    """Run use_case once per key; answers (response, replayed). use_case runs inside this transaction, which
    is durable when the caller has none open (a test's or a job's enclosing transaction makes it a savepoint).
    `write_last(response, answer)`: the caller's last write in the transaction, given the key's answer as a
    statement to send with it (None without a key); without it the answer is saved on its own.

    The key's claim is the transaction's first statement, sent with the use case's load when that comes first
    (core.sql.first_statement: on PostgreSQL one round trip for the claim, the member's lock and the load).
    The key already claimed (the same request done before, or by a concurrent one just committed): the
    transaction is rolled back, its lock released, and the stored answer read."""
    if not key:
        with transaction.atomic(durable=outermost()):
            response = use_case()
            if write_last is not None:
                write_last(response, None)
            return response, False
    print_ = fingerprint(operation, request)
    claim = _Claim(business, key, operation, print_)
    try:
        with transaction.atomic(durable=outermost()), first_statement(claim.sql, claim.params,
                                                                      claim.answer) as sent:
            response = use_case()
            sent()  # by now, unless the use case sent no statement
            if claim.pk is None:  # the key was taken, and the use case went on past the refusal (caught it)
                raise _Taken
            answer = answer_statement(claim.business_id, claim.pk, response)
            if write_last is not None:
                write_last(response, answer)
            else:
                plan = WritePlan()
                plan.add(*answer)
                plan.write()
            return response, False
    except _Taken:
        earlier = _replay(business, key, print_)
        if earlier is None:  # its holder gave it up since (a bulk write that failed): try again
            raise Conflict("request_in_progress", key=key) from None
        return earlier, True
    except Exception:
        if not claim.answered:  # refused before its first statement: a key answered before still replays
            earlier = _replay(business, key, print_)
            if earlier is not None:
                return earlier, True
        raise


@dataclass
class Batches:
    """Where a resumable bulk write starts (0, or where an interrupted run of the same key stopped), and the
    mark each batch leaves in its own transaction."""

    record_pk: int | None = None
    start: int = 0

    def done(self, upto: int) -> None:
        """Call inside the batch's transaction: the batch and its mark commit together."""
        if self.record_pk is not None:
            IdempotencyRecord.objects.filter(pk=self.record_pk).update(progress=upto)


def _resume(business, key: str, print_: str) -> IdempotencyRecord | None:
    """The record of the same request that failed after some of its batches committed, taken over by this
    run (a conditional update, so of two retries one resumes and the other is told to wait)."""
    record = IdempotencyRecord.objects.filter(business=business, namespace=namespace_of(key), key=key,
                                              fingerprint=print_, interrupted=True).first()
    if record is None or not IdempotencyRecord.objects.filter(pk=record.pk, interrupted=True).update(
            interrupted=False):
        return None
    return record


def run_idempotent_in_batches(business, key: str | None, operation: str, request: Any,
                              use_case: Callable[..., dict], *, resumable: bool = False,
                              on_done: Callable[[dict], None] | None = None) -> tuple[dict, bool]:
    """Like run_idempotent, for a bulk write that commits in batches of its own, so that no one transaction
    holds SQLite's write lock for long (other businesses' tills wait on it). The key's record is claimed first,
    in a short transaction, with no answer yet: a duplicate arriving meanwhile gets 409 request_in_progress.
    The answer is stored when the use case is done, right after on_done (the audit row). A use case that fails
    before any batch committed releases the claim, so the same key may be tried again. A `resumable` one is
    called with Batches and marks each batch done: when it fails after some batches committed, the claim stays,
    marked interrupted, and the same key and request resume it where it stopped, to exactly the intended
    whole. use_case runs outside any transaction here."""
    batches = Batches()
    if not key:
        response = use_case(batches) if resumable else use_case()
        if on_done is not None:
            on_done(response)
        return response, False
    print_ = fingerprint(operation, request)
    record = _resume(business, key, print_) if resumable else None
    if record is None:
        earlier = _replay(business, key, print_)
        if earlier is not None:
            return earlier, True
        try:
            with transaction.atomic():
                record = _claim(business, key, operation, print_)
        except IntegrityError:  # the same key at the same moment: the other request has it (or just gave it up)
            earlier = _replay(business, key, print_)
            if earlier is None:
                raise Conflict("request_in_progress", key=key) from None
            return earlier, True
    batches = Batches(record.pk, record.progress)
    try:
        response = use_case(batches) if resumable else use_case()
    except BaseException:
        claim = IdempotencyRecord.objects.filter(pk=record.pk)
        if resumable and claim.filter(progress__gt=0).update(interrupted=True):
            raise
        claim.delete()
        raise
    # Two single statements, no transaction of their own (the batches committed piecewise by design): on_done
    # first, so that a crash between them leaves the key held, never an answer without its audit row.
    if on_done is not None:
        on_done(response)
    IdempotencyRecord.objects.filter(pk=record.pk).update(response=response)
    return response, False
