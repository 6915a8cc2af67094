from vafa.core.errors import NotFound
from vafa.tenancy.models import Branch, Business


def business_by_slug(slug: str) -> Business:
    business = Business.objects.filter(slug=slug).first()
    if business is None:
        raise NotFound("business_not_found", slug=slug)
    return business


def branch_by_code(business: Business, code: str) -> Branch:
    branch = Branch.objects.filter(business=business, code=code).first()
    if branch is None:
        raise NotFound("branch_not_found", code=code)
    return branch


# (business id, its cache token) → the business's branch ids by code, per process
_branch_ids: dict[tuple[int, int], dict[str, int]] = {}


def branch_id_of(business: Business, code: str) -> int | None:
    """The id of the business's branch with this code, if there is one. The branches are kept per process under
    the business's cache token, which every change of them renews (services.touch): as current as the caller's
    copy of the business row (tenancy.cache). A code not among them is looked for again (a branch just
    created, the caller's copy older than it)."""
    key = (business.pk, business.cache_token)
    ids = _branch_ids.get(key)
    if ids is None:
        if len(_branch_ids) >= 10_000:
            _branch_ids.clear()  # a dropped copy only costs a read
        ids = _branch_ids[key] = dict(Branch.objects.filter(business=business).values_list("code", "id"))
    found = ids.get(code)
    if found is None:
        found = Branch.objects.filter(business=business, code=code).values_list("id", flat=True).first()
    return found


def branch_code_of(branch_id: int) -> str:
    return Branch.objects.values_list("code", flat=True).get(pk=branch_id)
