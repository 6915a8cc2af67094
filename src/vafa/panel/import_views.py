"""The import wizard (F8): upload members or purchases as CSV or Excel, map the file's columns to Vafa's, a dry
run listing every bad row with its reason, then the import — all through vafa.imports.services (the same code
as `vafa import`), all or nothing. The dry run is the import itself in a transaction that is rolled back, so it
finds exactly what the import would refuse. The uploaded rows wait in the cache between the steps."""

from __future__ import annotations

import csv
import io
import secrets

from django import forms
from django.core.cache import cache
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vafa.access.models import Scope
from vafa.core.errors import InvalidInput
from vafa.core.messages import message
from vafa.imports import services as imports
from vafa.panel.auth import panel_view

UPLOAD_TTL = 3600
MAX_BYTES = 50 * 1024 * 1024
PREVIEW_ROWS = 5
KINDS = {"members": (imports.import_members, ["mobile", "first_name", "last_name", "email", "points", "joined_at"],
                     {"mobile"}),
         "purchases": (imports.import_purchases, ["receipt", "mobile", "branch", "occurred_at", "total"],
                       {"receipt", "mobile", "branch", "occurred_at", "total"})}
COLUMN_TITLES = {"mobile": gettext_lazy("Mobile"), "first_name": gettext_lazy("First name"),
                 "last_name": gettext_lazy("Last name"), "email": gettext_lazy("E-mail"),
                 "points": gettext_lazy("Opening points"), "joined_at": gettext_lazy("Joined"),
                 "receipt": gettext_lazy("Receipt"), "branch": gettext_lazy("Branch code"),
                 "occurred_at": gettext_lazy("When"), "total": gettext_lazy("Total")}


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"),
                             choices=[("members", gettext_lazy("Members")), ("purchases", gettext_lazy("Purchases"))])
    file = forms.FileField(label=gettext_lazy("CSV or Excel (.xlsx) file, the first row naming the columns"))


def read_table(name: str, data: bytes) -> list[list[str]]:
    """The file's rows as text cells: an Excel workbook's first sheet, or CSV in UTF-8 (with or without BOM)."""
    if name.lower().endswith(".xlsx"):
        # openpyxl is heavy, and only an uploaded .xlsx file needs it.
        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        return [["" if cell is None else str(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    return [row for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))]


def _key(request, token: str) -> str:
    return f"panel:import:{request.business.pk}:{request.operator.pk}:{token}"


def _stored(request, token: str) -> dict:
    stored = cache.get(_key(request, token))
    if stored is None:
        raise Http404
    return stored


def _lines(stored: dict, mapping: dict[str, int]) -> list[str]:
    """The rows as the CSV lines the import service reads, under Vafa's column names."""
    out = io.StringIO()
    writer = csv.writer(out)
    names = list(mapping)
    writer.writerow(names)
    for row in stored["rows"]:
        writer.writerow([row[mapping[n]] if mapping[n] < len(row) else "" for n in names])
    return out.getvalue().splitlines(keepends=True)


def _run(request, stored: dict, mapping: dict[str, int], *, dry_run: bool):
    """(result, problems): the service's answer, or every bad row; on a dry run nothing is kept."""
    service = KINDS[stored["kind"]][0]
    language = "fa" if request.LANGUAGE_CODE.startswith("fa") else "en"
    try:
        with transaction.atomic():
            result = service(request.business, _lines(stored, mapping), actor=request.principal.actor)
            if dry_run:
                transaction.set_rollback(True)
        return result, []
    except imports.ImportRejected as exc:
        return exc.result, [(p.line, str(COLUMN_TITLES.get(p.field, p.field)), message(p.message, language))
                            for p in exc.result.problems]
    except InvalidInput as exc:
        return None, [(None, str(COLUMN_TITLES.get(e["field"], e["field"])), message(e["message"], language))
                      for e in exc.errors]


@panel_view(Scope.ADMIN)
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        table = []
        if file.size > MAX_BYTES:
            form.add_error("file", _("The file is larger than 50 MB."))
        else:
            try:
                table = read_table(file.name, file.read())
            except (UnicodeDecodeError, csv.Error, ValueError, OSError, KeyError):
                form.add_error("file", _("Not a CSV (UTF-8) or Excel file."))
        if form.is_valid() and len(table) < 2:
            form.add_error("file", _("The file has no rows under its header."))
        if form.is_valid():
            token = secrets.token_urlsafe(12)
            cache.set(_key(request, token), {"kind": form.cleaned_data["kind"], "name": file.name,
                                             "header": table[0], "rows": table[1:]}, UPLOAD_TTL)
            return redirect("panel:import_map", token)
    return render(request, "panel/imports/upload.html", {"form": form})


def _mapping(stored: dict, data) -> tuple[dict[str, int], list[str]]:
    """Vafa column → the file's column index, from the form (or guessed by name); and the required ones missing."""
    _, columns, required = KINDS[stored["kind"]]
    header = [h.strip().lower() for h in stored["header"]]
    mapping: dict[str, int] = {}
    for name in columns:
        chosen = data.get(f"col-{name}") if data is not None else (str(header.index(name)) if name in header else "")
        if chosen and chosen.isdigit() and int(chosen) < len(header):
            mapping[name] = int(chosen)
    return mapping, [n for n in columns if n in required and n not in mapping]


@panel_view(Scope.ADMIN)
def map_columns(request, token: str):
    stored = _stored(request, token)
    _, columns, required = KINDS[stored["kind"]]
    mapping, missing = _mapping(stored, request.POST if request.method == "POST" else None)
    context = {"token": token, "stored": stored, "preview": stored["rows"][:PREVIEW_ROWS], "rows": len(stored["rows"]),
               "columns": [(n, COLUMN_TITLES[n], n in required, mapping.get(n)) for n in columns],
               "header": list(enumerate(stored["header"]))}
    if request.method == "POST":
        if missing:
            context["missing"] = [COLUMN_TITLES[n] for n in missing]
        else:
            result, problems = _run(request, stored, mapping, dry_run=True)
            stored["mapping"] = mapping if not problems else None
            cache.set(_key(request, token), stored, UPLOAD_TTL)
            context |= {"dry_run": result, "problems": problems, "checked": True}
    return render(request, "panel/imports/map.html", context)


@panel_view(Scope.ADMIN)
def run_import(request, token: str):
    """The import itself (POSTed by the progress page once it is shown); answers the result fragment."""
    stored = _stored(request, token)
    if request.method != "POST":
        return render(request, "panel/imports/running.html", {"token": token, "stored": stored})
    if not stored.get("mapping"):
        raise Http404  # only a file whose dry run passed
    result, problems = _run(request, stored, stored["mapping"], dry_run=False)
    if not problems:
        cache.delete(_key(request, token))
    return render(request, "panel/imports/result.html", {"result": result, "problems": problems, "stored": stored})
