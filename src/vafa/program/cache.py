"""The business's active program and branches, cached per process and checked by the business's cache token
(issue 11). The purchase reads the token in the statement that takes the member's lock, so a cached copy is
used only while it is the current one: an activation or a new branch in any process writes a new token
(tenancy.services.touch), and the next purchase anywhere re-reads. Checks before the transaction (the input's
branch, the backdating limit) may use the cached copy; a branch missing from it is looked for again."""

from __future__ import annotations

from dataclasses import dataclass

from vafa.program import derived
from vafa.program.document import ProgramDocument
from vafa.program.models import ProgramVersion
from vafa.program.selectors import active_program
from vafa.tenancy.models import Branch, Business


@dataclass(frozen=True)
class Setup:
    token: int
    version: ProgramVersion
    document: ProgramDocument
    branches: dict[str, Branch]


_setups: dict[int, Setup] = {}

def setup_of(business, token: int | None = None) -> Setup:
    """The cached setup; `token`: the business's cache token as just read (None: the cached copy as it is)."""
    held = _setups.get(business.pk)
    if held is not None and (token is None or held.token == token):
        return held
    return _load(business)


def held(business_id: int) -> Setup | None:
    """The setup this process holds, unchecked and never read: for a statement built before the token that
    confirms it is read (the caller checks the token it then reads against it)."""
    return _setups.get(business_id)


def branch_of(business, code: str) -> Branch | None:
    branch = setup_of(business).branches.get(code)
    if branch is None:  # perhaps created since this process read the branches
        branch = refresh(business).branches.get(code)
    return branch


def refresh(business) -> Setup:
    """Read again, whatever is cached: before refusing a request on what the cached copy says."""
    return _load(business)


def _load(business) -> Setup:
    # the token first: a change committed between these reads then shows as a token that is already old
    token = Business.objects.filter(pk=business.pk).values_list("cache_token", flat=True).first() or 0
    version, document = active_program(business)
    setup = Setup(token, version, document, {branch.code: branch for branch in Branch.objects.filter(
        business_id=business.pk)})
    old = _setups.get(business.pk)
    if old is not None:
        derived.drop(old.document)
    _setups[business.pk] = setup
    derived.keep(document)  # what the engine and the load work out from it, kept while it is held here
    return setup


def forget() -> None:
    """Drop every cached setup (tests: a test database's rows do not outlive the test)."""
    _setups.clear()
    derived.clear()
