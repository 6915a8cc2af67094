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


def branch_id_of(business: Business, code: str) -> int | None:
    """The id of the business's branch with this code, if there is one."""
    return Branch.objects.filter(business=business, code=code).values_list("id", flat=True).first()


def branch_code_of(branch_id: int) -> str:
    return Branch.objects.values_list("code", flat=True).get(pk=branch_id)
