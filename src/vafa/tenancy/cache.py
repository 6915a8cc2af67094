"""The business row, cached per process (issue 11): every API request needs its caller's business, and reading
it cost a statement and a third of a balance read's CPU. A copy is good while the business's cache token is the
one it was read with: every save of the row writes a new token (Business.save), as does every change of the
program or branches (services.touch). A request that reads the token beside its own row (the balance read, a
voucher validation) confirms the copy or replaces it at once; any other use takes the copy for CHECK_SECONDS
after it was last read or confirmed, then reads the row again. The process that edits the business drops its
copy at once. The copy kept is shared by the process's threads, so every caller gets a copy of its own (a few
microseconds): one that changes its business (an edit, before it saves) is never seen half-way by another."""

from __future__ import annotations

import time

from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_save
from django.dispatch import receiver

from vafa.tenancy.models import Business

CHECK_SECONDS = 1.0
_held: dict[int, tuple[float, Business]] = {}  # business id → (read or confirmed at, time.monotonic(); the row)


def business_of(business_id: int, token: int | None = None) -> Business:
    """The business, a copy the caller may change; `token`: its cache token as just read beside another row
    (None: the kept copy, if recent)."""
    held = _held.get(business_id)
    if held is not None:
        if token is None:
            if time.monotonic() - held[0] < CHECK_SECONDS:
                return _own_copy(held[1])
        elif held[1].cache_token == token:
            _held[business_id] = (time.monotonic(), held[1])
            return _own_copy(held[1])
    row = Business.objects.get(pk=business_id)
    if len(_held) >= 10_000:
        _held.clear()  # a dropped copy only costs a read
    _held[business_id] = (time.monotonic(), row)
    return _own_copy(row)


def _own_copy(row: Business) -> Business:
    # every field of a business is a number, a text or a moment: a shallow copy shares nothing changeable
    # (copy.copy pickles and unpickles the row: ten times as long)
    clone = Business.__new__(Business)
    clone.__dict__.update(row.__dict__)
    state = clone._state = ModelState()
    state.db, state.adding = row._state.db, False
    return clone


def forget(business_id: int | None = None) -> None:
    """Drop this process's copy of one business (None: of every business; tests)."""
    if business_id is None:
        _held.clear()
    else:
        _held.pop(business_id, None)


@receiver(post_save, sender=Business, dispatch_uid="tenancy.cache.forget")
def _saved(sender, instance: Business, **kwargs) -> None:
    # at once, and again after commit: another thread may have read the old row meanwhile
    forget(instance.pk)
    transaction.on_commit(lambda: forget(instance.pk))
