"""One way to write. Every use case — a purchase, a return, a sign-up, an adjustment, a grant — runs through
`run_use_case` (or the `@use_case` decorator), whoever asks: the API, the command line, WooCommerce, the panel,
the till, the member portal or a job. It owns, in one place:

- the outer transaction (`durable=True` when the caller has none open; a savepoint inside a caller's own);
- the idempotency record of the caller's key (core.idempotency: one claim, the client and system namespaces);
- the replay flag: a replay (the key's stored answer, or a use case's own replay such as a receipt posted
  again) answers `replayed=True` and changes nothing;
- the audit row (access.AuditEvent), written in the same transaction as the change: who (the actor), from
  where (the channel, the address, the request line when a request carried it), what (the operation, its
  object and its parameters as data, secrets left out). A replay writes none; a use case that fails writes
  none (its transaction rolls back); a use case inside another (WooCommerce's order → the purchase) is part
  of the outer one and its single row.

The channels only say who and from where (`origin`), translate their input into the use case's input, and its
result into their output."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from vafa.core.actor import SYSTEM, Actor
from vafa.core.idempotency import run_idempotent, run_idempotent_in_batches
from vafa.core.sql import WritePlan

R = TypeVar("R")



def _write_audit_row(*, plan: WritePlan | None = None, **row: Any) -> None:
    """The one writer of audit rows: into the use case's last write plan (sent in its round trip), or at once."""
    if plan is not None:
        plan.insert(AUDIT_ROWS["model"], [row])
    else:
        AUDIT_ROWS["model"].objects.create(**row)


# The audit row's model (access.AuditEvent) belongs to an app above core: access puts it here ("model") at
# start-up (access.apps.Config.ready), as the apps put their handlers in outbox.HANDLERS, so core names no app
# above it. "create" is the writer every audit row goes through, whichever way it is written (a test makes it
# fail, and sees that the change it records is not written either).
AUDIT_ROWS: dict[str, Any] = {"create": _write_audit_row}

# Request fields never copied into an audit row: bearer secrets (a gift card's code and PIN, a voucher or
# partner code, a sign-in code, an SMS key, a webhook's secret, a CSV of codes).
SECRET_FIELDS = frozenset({"code", "codes", "pin", "secret", "password", "token", "gift_card", "csv"})
SECRET_ENDINGS = ("_key", "_secret", "_token", "_password", "_pin")


@dataclass(frozen=True)
class Origin:
    """From where a write comes: the channel, and the request line when an HTTP request carried it."""

    channel: str = "system"  # api, panel, till, portal, cli, woocommerce, admin, web; system when none said
    request: str = ""  # "POST /api/v1/purchases"


@dataclass
class _Run:
    """What the current request or job did: whether a use case ran (then it wrote the audit row, or failed)."""

    origin: Origin
    use_cases: int = 0


_current: ContextVar[_Run | None] = ContextVar("vafa_write_origin", default=None)
_inside: ContextVar[str | None] = ContextVar("vafa_use_case", default=None)
# the outer use case's last write plan, once its body hands it over (write_last); None: nobody awaits one
_last: ContextVar[list[tuple[WritePlan, Callable[[WritePlan], None]]] | None] = ContextVar("vafa_last_plan",
                                                                                           default=None)


class origin:  # lower case: it reads as the function it was, `with origin(...)`
    """Everything written inside comes from this channel (and request). Set by the channels' entry points: the
    middleware for every HTTP request (the API, WooCommerce's webhook, the screens), and the command line for
    every command (the worker and the jobs included). A class, not a generator under @contextmanager: entered
    once per request, it cost a balance read 1.5 µs that way (issue 11, api-glue)."""

    __slots__ = ("run", "token")

    def __init__(self, channel: str, request: str = "") -> None:
        self.run = _Run(Origin(channel, request[:100]))

    def __enter__(self) -> None:
        self.token = _current.set(self.run)

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self.token)


def current_origin() -> Origin:
    run = _current.get()
    return run.origin if run is not None else Origin()


def audit_params(request: Mapping[str, Any]) -> dict:
    """A request as audit data: every field but the secrets (their presence is kept, not their value)."""
    return {name: "***" if value and (name in SECRET_FIELDS or name.endswith(SECRET_ENDINGS)) else value
            for name, value in request.items()}


def _audit_row(business_id: int, actor: Actor, *, operation: str, object_type: str, object_id: Any = "",
               params: Mapping[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    source = current_origin()
    return dict(
        business_id=business_id, action=(source.request or operation)[:100], channel=source.channel[:16],
        operation=operation[:64], object_type=object_type[:32], object_id=str(object_id if object_id is not None
                                                                                 else "")[:64],
        params=audit_params(params or {}), status_code=status, **actor.fields())


def write_audit(business_id: int, actor: Actor, *, operation: str, object_type: str, object_id: Any = "",
                params: Mapping[str, Any] | None = None, status: int = 200) -> None:
    """The one writer of audit rows. Called by run_use_case inside the use case's transaction, and by the
    screens for a change that is not yet a use case of its own (vafa.panel.auth)."""
    AUDIT_ROWS["create"](**_audit_row(business_id, actor, operation=operation, object_type=object_type,
                                      object_id=object_id, params=params, status=status))


def write_last(plan: WritePlan, write: Callable[[WritePlan], None] = WritePlan.write) -> None:
    """The use case's last write: handed to the run_use_case running it, which adds the audit row and the
    key's stored answer and sends the plan once (`write`: how, e.g. with the use case's own error translation),
    so that on PostgreSQL they share one round trip. Nothing may read what the plan writes after this call.
    Written at once when no run_use_case awaits it (a use case inside another, a bulk write, a direct call)."""
    waiting = _last.get()
    if waiting is None:
        write(plan)
        return
    if waiting:  # handed over twice: the earlier plan is written now, in order, the later one waits
        earlier, write_earlier = waiting.pop()
        write_earlier(earlier)
    waiting.append((plan, write))


def used_a_use_case() -> bool:
    """Whether the current request ran a use case (which then wrote its audit row, or failed and wrote none)."""
    run = _current.get()
    return run is not None and run.use_cases > 0


def is_replay(result: Any) -> bool:
    return bool(result.get("replayed")) if isinstance(result, Mapping) else bool(getattr(result, "replayed", False))


def _id_of(result: Any, field: str | Callable[[Any], Any] | None) -> Any:
    if field is None:
        return ""
    if callable(field):
        return field(result)
    return result.get(field) if isinstance(result, Mapping) else getattr(result, field, "")


def run_use_case(business, operation: str, request: Mapping[str, Any], body: Callable[..., R], *,
                 actor: Actor = SYSTEM, key: str | None = None, object_type: str = "",
                 object_id: str | Callable[[Any], Any] | None = "id", status: int = 201, in_batches: bool = False,
                 resumable: bool = False) -> tuple[R, bool]:
    """Run one use case: `body` does load → decide → write and answers the result (a dict, or the row it
    made). Answers (result, replayed). `request` is the use case's input as data:
    its idempotency fingerprint and its audit parameters. `in_batches`: a bulk write committing in batches of
    its own (the audit row then goes with its stored answer, after the last batch)."""
    outer = _inside.get() is None
    run = _current.get()
    if run is not None and outer:
        run.use_cases += 1

    def audit(result) -> None:
        if outer and not is_replay(result):
            write_audit(business.pk, actor, operation=operation, object_type=object_type,
                        object_id=_id_of(result, object_id), params=request, status=status)

    def inside(*args, waiting: list | None = None):
        """The body, as the use case `operation`; `waiting`: where its last plan goes (write_last). None: a
        bulk write's, or an inner use case's, plans are written as they come."""
        token = _inside.set(operation)
        last = _last.set(waiting)
        try:
            return body(*args)
        finally:
            _last.reset(last)
            _inside.reset(token)

    if in_batches:
        return run_idempotent_in_batches(business, key, operation, dict(request), inside, resumable=resumable,
                                         on_done=audit)

    waiting: list[tuple[WritePlan, Callable[[WritePlan], None]]] = []

    def finish(result, answer: tuple[str, list] | None) -> None:
        """The use case's last plan with the audit row and the key's answer: one write. A use case that handed
        over no plan has them in a plan of their own."""
        plan, write = waiting[0] if waiting else (WritePlan(), WritePlan.write)
        if outer and not is_replay(result):
            AUDIT_ROWS["create"](plan=plan, **_audit_row(
                business.pk, actor, operation=operation, object_type=object_type,
                object_id=_id_of(result, object_id), params=request, status=status))
        if answer is not None:
            plan.add(*answer)
        write(plan)

    return run_idempotent(business, key, operation, dict(request), lambda: inside(waiting=waiting if outer else None),
                          write_last=finish)
