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
