"""The program: the active version as readable rules, the YAML editor (validated by the same Pydantic validation
as PUT /api/v1/program, each error beside its line), simulate one purchase (the API's dry run), the backtest
(the draft against the active version over the last N days, in chunks polled by HTMX), activation, and the
version history with a diff."""

from __future__ import annotations

import difflib
import re
import secrets

import yaml
from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vafa.access.models import Scope
from vafa.core.digits import to_ascii_digits, to_persian_digits
from vafa.core.errors import InvalidInput
from vafa.core.messages import message
from vafa.core.usecase import run_use_case
from vafa.members.models import Member
from vafa.panel import backtest
from vafa.panel.auth import may, panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.program_text import Renderer
from vafa.panel.templatetags.panel import num
from vafa.program.document import dump_document, localize
from vafa.program.models import ProgramVersion
from vafa.program.selectors import active_program, context_of
from vafa.program.services import activate_program, validate_program
from vafa.purchases.services import record_purchase

BACKTEST_TTL = 3600
DEFAULT_DAYS = 90


def to_yaml(document: dict) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def yaml_line(text: str, location: str) -> int | None:
    """The 1-based line of the YAML node a Pydantic error location ("rules.0.per") names: the deepest node of
    the path that exists (a missing field points at its parent)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in [p for p in location.split(".") if p] if node is not None else []:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


# Pydantic's sentences the API answers (English), said in the operator's language on the panel.
PYDANTIC_SENTENCES = [
    (r"Input should be greater than or equal to (\S+)", gettext_lazy("must be at least %(0)s")),
    (r"Input should be greater than (\S+)", gettext_lazy("must be more than %(0)s")),
    (r"Input should be less than or equal to (\S+)", gettext_lazy("must be at most %(0)s")),
    (r"Field required", gettext_lazy("is required")),
    (r"Extra inputs are not permitted", gettext_lazy("is not a known field (check the spelling)")),
    (r"Input should be a valid integer.*", gettext_lazy("must be a whole number")),
    (r"Input should be (.+)", gettext_lazy("should be %(0)s")),
]


def said(problem: str) -> str:
    for pattern, sentence in PYDANTIC_SENTENCES:
        if found := re.fullmatch(pattern, problem):
            persian = (translation.get_language() or "fa").startswith("fa")
            return str(sentence) % {str(i): to_persian_digits(value) if persian and value.isdigit() else value
                                    for i, value in enumerate(found.groups())}
    return problem


# A list in the document, by its key, as the operator names one of its items ("Rule 2").
ITEM_NAMES = {"rules": gettext_lazy("Rule %(n)s"), "levels": gettext_lazy("Tier %(n)s"),
              "plans": gettext_lazy("Plan %(n)s"), "steps": gettext_lazy("Step %(n)s"),
              "rates": gettext_lazy("Rate %(n)s"), "goods": gettext_lazy("Good %(n)s"),
              "hours": gettext_lazy("Hours %(n)s")}


def readable_location(data, location: str, language: str) -> str:
    """A validation error's path ("rules.0.per") as the operator reads it: "Rule 1 (base) → per", each list item
    by its number from 1 and its name (or id, or code) when it has one; the YAML keys stay as written."""
    parts, node, key = [], data, ""
    for part in [p for p in location.split(".") if p]:
        if isinstance(node, list) and part.isdigit():
            index = int(part)
            node = node[index] if index < len(node) else None
            number = to_persian_digits(str(index + 1)) if language == "fa" else str(index + 1)
            if key in ITEM_NAMES:
                parts.pop()  # "Rule 2" says "rules" already
            shown = str(ITEM_NAMES.get(key, gettext_lazy("Item %(n)s"))) % {"n": number}
            if isinstance(node, dict):
                name = node.get("name")
                name = localize(name, language) if isinstance(name, str | dict) else ""
                label = name or node.get("id") or node.get("code")
                if isinstance(label, str) and label:
                    shown += f" ({label})"
            parts.append(shown)
        else:
            node = node.get(part) if isinstance(node, dict) else None
            parts.append(part)
        key = part
    return (" ← " if language == "fa" else " → ").join(parts)


def check_draft(text: str, language: str):
    """(document, []) or (None, [(line or None, message)]): YAML first, then the program's own validation."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [(mark.line + 1 if mark else None, _("Not valid YAML: %(problem)s") % {
            "problem": getattr(exc, "problem", None) or str(exc)})]
    try:
        return validate_program(data), []
    except InvalidInput as exc:
        # a problem of the whole document is said without its pseudo-field's name
        return None, [(yaml_line(text, e["field"]),
                       f"{readable_location(data, e['field'], language) if e['field'] != 'document' else ''}: "
                       f"{said(message(e['message'], language))}".lstrip(": ")) for e in exc.errors]


def annotated(text: str, errors: list, context: int = 2) -> list[tuple[int, str, list[str]]]:
    """The lines with a problem, each with `context` lines around it, and the problems beside their line (a
    problem with no line goes beside the first)."""
    by_line: dict = {}
    for line, problem in errors:
        by_line.setdefault(line or 1, []).append(problem)
    near = {n for line in by_line for n in range(line - context, line + context + 1)}
    return [(n, body, by_line.get(n, [])) for n, body in enumerate(text.splitlines() or [""], 1) if n in near]


def _language(request) -> str:
    return "fa" if request.LANGUAGE_CODE.startswith("fa") else "en"


class SimulateForm(forms.Form):
    member = forms.CharField(label=gettext_lazy("Member code or mobile"), max_length=20)
    branch = forms.ChoiceField(label=gettext_lazy("Branch"))
    total = AmountField(label=gettext_lazy("Amount"))
    category = forms.CharField(label=gettext_lazy("Category (optional)"), max_length=64, required=False)

    def __init__(self, *args, business, principal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A cashier simulates in their own branches, as the API's dry run allows.
        self.fields["branch"].choices = [(b.code, b.name) for b in business.branches.order_by("name")
                                         if principal.may_use_branch(b.pk)]


def find_member(business, text: str) -> Member | None:
    text = to_ascii_digits(text).strip()
    members = Member.objects.filter(business=business)
    return (members.filter(code=text.upper()).first()
            or (members.filter(mobile__endswith=text.lstrip("0")[-10:]).first() if text.isdigit() and len(text) >= 10 else None))


@panel_view(Scope.READ, post_writes_nothing=True)
def program_page(request):
    """Simulate is a dry run (POST /api/v1/program/simulate needs read scope): an analyst may run it."""
    version, document = active_program(request.business)
    result = None
    form = SimulateForm(request.POST or None, business=request.business, principal=request.principal, prefix="sim")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        member = find_member(request.business, data["member"])
        if member is None:
            form.add_error("member", message("member_not_found", _language(request)))
        else:
            lines = ([{"sku": "", "name": "", "category": data["category"], "quantity": 1, "unit_price": data["total"]}]
                     if data["category"] else None)
            result = run_service(form, lambda: record_purchase(
                request.business, member_id=member.pk, branch_code=data["branch"], receipt="simulate",
                total=data["total"], lines=lines, dry_run=True, actor=request.principal.actor))
    renderer = Renderer(request.business, request.LANGUAGE_CODE)
    return render(request, "panel/program/page.html", {
        "version": version, "sections": renderer.sections(document), "form": form, "result": result,
        "can_draft": may(request, Scope.READ, whole_business=True), "can_edit": may(request, Scope.ADMIN, "program")})


@panel_view(Scope.READ, whole_business=True, post_writes_nothing=True)
def program_edit(request):
    """Check and backtest a draft: dry runs over the whole business's purchases, open to every reader who is not
    bound to branches (an analyst too). Activating is PUT /api/v1/program: the owner's."""
    version, document = active_program(request.business)
    text = request.POST.get("document", "") if request.method == "POST" else to_yaml(version.document)
    action = request.POST.get("action", "check")
    days = _days(request.POST.get("days"))
    context: dict = {"text": text, "days": days, "version": version}
    if request.method == "POST":
        draft, errors = check_draft(text, _language(request))
        context |= {"errors": errors, "lines": annotated(text, errors) if errors else []}
        if action == "activate":
            request.principal.require(Scope.ADMIN, "program")
        if draft is not None and action == "activate":
            created = run_service(forms.Form(), lambda: activate(request, draft))
            if created is not None:
                messages.success(request, _("Version %(n)s is active.") % {"n": num(created.version)})
                return redirect("panel:program")
        if draft is not None and action == "backtest":
            token = secrets.token_urlsafe(12)
            state = backtest.start(request.business, days)
            cache.set(_key(request, token), (state, to_yaml(version.document), text, version.version), BACKTEST_TTL)
            context["backtest_url"] = reverse("panel:program_backtest", args=[token])
            context["state"] = state
        context["valid"] = draft is not None
    context["can_activate"] = may(request, Scope.ADMIN, "program")
    return render(request, "panel/program/edit.html", context)


def activate(request, draft) -> ProgramVersion:
    """The API's use case (PUT /api/v1/program): the same audit row, since this view's other POSTs write none."""
    version, _replayed = run_use_case(
        request.business, "program.activate", {"document": dump_document(draft)}, lambda: activate_program(
            request.business, draft, actor=request.principal.actor),
        actor=request.principal.actor, object_type="program", object_id="version", status=200)
    return version


def _days(value) -> int:
    text = to_ascii_digits(value or "").strip()
    return min(max(int(text), 1), 730) if text.isdigit() else DEFAULT_DAYS


def _key(request, token: str) -> str:
    return f"panel:backtest:{request.business.pk}:{token}"


@panel_view(Scope.READ, whole_business=True)
def program_backtest(request, token: str):
    """One chunk of the replay per poll: the progress bar until the last, then the comparison."""
    stored = cache.get(_key(request, token))
    if stored is None:
        raise Http404
    state, active_text, draft_text, active_version = stored
    active, draft = validate_program(yaml.safe_load(active_text)), validate_program(yaml.safe_load(draft_text))
    if not state.finished:
        backtest.advance(state, request.business, active, draft, context_of(request.business))
        cache.set(_key(request, token), (state, active_text, draft_text, active_version), BACKTEST_TTL)
    context = {"state": state, "backtest_url": request.path}
    if state.finished:
        comparison = backtest.compare(state, request.business, active, draft)
        names = dict(Member.objects.filter(business=request.business, pk__in=[m for m, _, _ in comparison.most_affected])
                     .values_list("pk", "code"))
        tier_names = {level.code: Renderer(request.business, request.LANGUAGE_CODE).text(level.name)
                      for doc in (active, draft) if doc.tiers for level in doc.tiers.levels}
        context |= {"comparison": comparison, "member_codes": names, "tier_names": tier_names,
                    "active_version": active_version}
    return render(request, "panel/program/backtest.html", context)


@panel_view(Scope.READ)
def program_history(request):
    versions = list(ProgramVersion.objects.filter(business=request.business).order_by("-version"))
    chosen = request.GET.get("version", "")
    diff = None
    by_number = {str(v.version): v for v in versions}
    if chosen in by_number:
        current = by_number[chosen]
        previous = by_number.get(str(current.version - 1))
        before = to_yaml(previous.document).splitlines() if previous else []
        diff = list(difflib.unified_diff(before, to_yaml(current.document).splitlines(),
                                         f"v{previous.version}" if previous else "", f"v{current.version}", lineterm=""))
    return render(request, "panel/program/history.html", {"versions": versions, "chosen": chosen, "diff": diff})
