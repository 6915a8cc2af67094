"""One permission model for the API and the web: a principal (API key or operator) with a scope and,
optionally, the branches it may act in."""

from __future__ import annotations

from dataclasses import dataclass

from vafa.access.models import Role, Scope
from vafa.core.actor import Actor
from vafa.core.errors import VafaError

SCOPE_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}
# What each operator role may do: its scope, and whether it is bound to its branches.
ROLE_SCOPE = {Role.OWNER: Scope.ADMIN, Role.MANAGER: Scope.ADMIN, Role.CASHIER: Scope.WRITE, Role.ANALYST: Scope.READ}
# Managers administer members and balances, not these: the program, who may connect, where member data goes,
# and which other businesses may look our members up (partners).
ADMIN_ONLY_FOR_OWNER = {"program", "api_keys", "operators", "webhooks", "integrations", "partners"}


class Forbidden(VafaError):
    status = 403
    code = "forbidden"


@dataclass(frozen=True)
class Principal:
    business_id: int
    scope: str
    branch_ids: frozenset[int] | None  # None: every branch
    actor: Actor
    role: str | None = None  # operators only

    def require(self, scope: str, area: str | None = None, *, whole_business: bool = False,
                in_branch: bool = False) -> None:
        """The scope (and, for operators, the role) the operation needs. A principal bound to branches works in
        them only: it never has the business-wide rights of the admin scope (the program, branches, keys,
        vouchers, grants …) unless the operation acts `in_branch` (and then checks require_branch), nor the
        whole-business reads marked `whole_business` (exports, reports)."""
        if SCOPE_RANK[Scope(self.scope)] < SCOPE_RANK[Scope(scope)]:
            raise Forbidden("scope_too_narrow", needed=scope)
        if area in ADMIN_ONLY_FOR_OWNER and self.role is not None and self.role != Role.OWNER:
            raise Forbidden("owner_only")
        if self.branch_ids is not None and (whole_business or (scope == Scope.ADMIN and not in_branch)):
            raise Forbidden("branch_bound")

    def require_branch(self, branch_id: int | None) -> None:
        if self.branch_ids is not None and branch_id not in self.branch_ids:
            raise Forbidden("branch_not_allowed")

    def may_use_branch(self, branch_id: int | None) -> bool:
        return self.branch_ids is None or branch_id in self.branch_ids
