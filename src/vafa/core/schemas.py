"""The base of every request body: unknown fields are refused, and so is text no database can store: the NUL
character (PostgreSQL) and lone surrogates (not encodable as UTF-8), and nesting deeper than any request needs
(which would otherwise exhaust Python's recursion limit: a 500). And the base of answers made of plain values, with
`shaped`, which renders one as its model would without validating it again."""

import datetime as dt
import functools
import types
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, Union, get_args, get_origin

from ninja import Schema
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, model_validator

EARLIEST_MOMENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # no loyalty activity is older; year 1 is a typo
MAX_DEPTH = 32  # objects and arrays inside each other; the deepest real request (a program document) needs 8


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def body_problem(value: Any) -> str | None:
    """Why a parsed JSON body cannot be taken ("too_deeply_nested", "bad_text"), or None. Walks the body with a
    stack of its own, so no depth of nesting can raise RecursionError here."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _bad_text(item):
                return "bad_text"
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                return "too_deeply_nested"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


# Set while a body is being validated: the models inside it need not walk their part of it again.
_walked: ContextVar[bool] = ContextVar("vafa_body_walked", default=False)


class StrictSchema(Schema):
    """A request body (or a part of one), validated once. Ninja's Schema validates a model that forbids extra
    fields twice, the dict and then the dict wrapped for attribute access (for model instances, which a body
    never is), and so every model inside it twice again: a purchase's member and items were validated four
    times and the body walked for NUL ten times (issue 11). Here each model is validated once and the body is
    walked once, by the outermost model."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(cls, values: Any, handler: Any, info: ValidationInfo) -> Any:
        if _walked.get():
            return handler(values)
        problem = body_problem(values)
        if problem == "too_deeply_nested":
            raise ValueError(problem)
        if problem is not None:
            raise ValueError("text must be valid Unicode without the NUL character")
        token = _walked.set(True)
        try:
            return handler(values)
        finally:
            _walked.reset(token)


class PlainOut(BaseModel):
    """The base of an answer made of plain values (dicts, lists, numbers, text), validated by pydantic alone.
    Ninja's Schema wraps every object of an answer, nested ones too, in an attribute getter of its own
    (DjangoGetter, for model instances and their managers): the balance read's answer cost 0.15 ms to check
    that way and 0.03 ms this way (issue 11). Not for an answer read from a model's managers or resolve_ methods."""

    model_config = ConfigDict(from_attributes=True)


def _sane_moment(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None and value < EARLIEST_MOMENT:
        raise ValueError("too_early")
    return value


# When something happened, as a client reports it: not before 2000 (the services refuse the future and a
# missing offset).
Moment = Annotated[dt.datetime, AfterValidator(_sane_moment)]


# --- answers rendered without validating them again ------------------------------------------------------------


def shaped(model: type[BaseModel], data: Mapping) -> dict:
    """`data` as `model` validated and dumped it: its fields in their order, the defaults of those missing,
    nothing else, the models inside shaped alike. For an answer whose values already have the model's types
    (a use case's result, or its stored answer replayed; a read's answer), at a tenth of the cost of Ninja's response
    validation, which reads every field of every model through an attribute getter (issue 11)."""
    out = {}
    for name, nested, required, default in _fields(model):
        if name in data:
            value = data[name]
            out[name] = value if nested is None or value is None else nested(value)
        elif required:
            raise KeyError(f"{model.__name__}.{name}")
        else:
            out[name] = default
    return out


@functools.cache
def _fields(model: type[BaseModel]) -> tuple[tuple[str, Callable | None, bool, Any], ...]:
    return tuple((name, _shaper(info.annotation), info.is_required(),
                  None if info.is_required() else info.get_default(call_default_factory=True))
                 for name, info in model.model_fields.items())


def _shaper(annotation) -> Callable | None:
    """How a value of this type is shaped: a model by its fields, a list by its items (None: as it is)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return functools.partial(shaped, annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        item = _shaper(args[0])
        return None if item is None else lambda values: [item(value) for value in values]
    if origin in (Union, types.UnionType):
        given = [arg for arg in args if arg is not type(None)]
        return _shaper(given[0]) if len(given) == 1 else None
    return None
