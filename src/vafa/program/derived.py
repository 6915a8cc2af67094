"""What is worked out from a program alone, kept per program version (issue 11): the engine's and the load's
parts that depend on the document only. Kept only for the documents program.cache holds (`keep`, `drop`): a new
version, or a reload, is a new document with a place of its own, so a program change is always seen. Any other
document (a draft, a test's, a simulation's) gets a new empty place each time: nothing is kept for it."""

from __future__ import annotations

from typing import Any

# id(a held document) → (the document, what is derived from it); the document held here too, so that its id
# names no other object while the entry lasts
_places: dict[int, tuple[Any, dict]] = {}


def of(document: Any) -> dict:
    """The document's place: a dict its users key by what they derive."""
    found = _places.get(id(document))
    return found[1] if found is not None and found[0] is document else {}


_KEPT = 10_000  # documents: a bound for those left behind by two threads reloading one business at once


def keep(document: Any) -> None:
    if len(_places) >= _KEPT:
        _places.clear()
    _places[id(document)] = (document, {})


def drop(document: Any) -> None:
    found = _places.get(id(document))
    if found is not None and found[0] is document:
        del _places[id(document)]


def clear() -> None:
    _places.clear()
