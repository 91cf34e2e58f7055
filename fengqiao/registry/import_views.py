"""The resident import pages: upload, preview (nothing written), confirm (all or nothing), template."""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from fengqiao.core.excel import XLSX_CONTENT_TYPE
from fengqiao.core.masking import mask
from fengqiao.regions.models import Level

from . import imports, selectors, uploads
from .groups import SENSITIVE_PERMISSION
from .models import Gender, SpecialGroup

KIND = "residents"
#: problems listed on the page (the count says how many there are in all)
ERRORS_SHOWN = 2000
WARNINGS_SHOWN = 200
PREVIEW_ROWS = 10


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Excel file (.xlsx)"),
        help_text=gettext_lazy("Use the template: one resident per row, the headers in the first row."),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("The file is too large (%(size)d MB; at most %(mb)d MB): split it into several files.")
                % {"size": upload.size // 1024 // 1024, "mb": imports.MAX_UPLOAD_BYTES // 1024 // 1024}
            )
        if not upload.name.lower().endswith(".xlsx"):
            raise ValidationError(_("Upload an Excel workbook (.xlsx); save older .xls files as .xlsx first."))
        return upload


def _require(request: HttpRequest) -> None:
    if not request.user.has_perm(imports.ADD_PERM):
        raise PermissionDenied


def _preview_rows(result: imports.ResidentImport) -> list[dict[str, Any]]:
    rows = []
    for item in result.planned[:PREVIEW_ROWS]:
        rows.append(
            {
                "row": item.row,
                "name": mask("name", item.name),
                "id_number": mask("id_number", item.id_number) if item.id_number else "",
                "phone": mask("phone", item.phone) if item.phone else "",
                "gender": Gender(item.gender).label if item.gender in Gender.values else "",
                "grid": item.grid.name,
                "household": item.household,
                "groups": "、".join(g.name for g in item.groups),
            }
        )
    return rows


def _context(form: ImportForm, result: imports.ResidentImport | None, token: str = "") -> dict[str, Any]:
    context: dict[str, Any] = {"form": form, "result": result, "token": token}
    if result is not None:
        context.update(
            {
                "errors": result.errors[:ERRORS_SHOWN],
                "errors_hidden": max(0, len(result.errors) - ERRORS_SHOWN),
                "warnings": result.warnings[:WARNINGS_SHOWN],
                "warnings_hidden": max(0, len(result.warnings) - WARNINGS_SHOWN),
                "preview": _preview_rows(result) if result.ok else [],
                "rows": len(result.planned),
                "new_households": len(result.new_households),
                "existing_households": len(result.existing_households),
                "memberships": result.memberships,
            }
        )
    return context


@login_required
@require_http_methods(["GET", "POST"])
def resident_import(request: HttpRequest) -> HttpResponse:
    """Step 1 (upload): check everything and show a preview; step 2 (confirm): write all or nothing."""
    _require(request)
    if request.method == "POST" and request.POST.get("step") == "confirm":
        return _confirm(request)
    if request.method == "POST" and request.POST.get("step") == "cancel":
        uploads.discard(request.session)
        return redirect("registry:resident_import")
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        result = imports.check_residents(upload, actor=request.user)
        token = ""
        if result.ok:
            token = uploads.store(request.session, upload, upload.name, KIND)
        else:
            uploads.discard(request.session)
        return render(request, "registry/resident_import.html", _context(form, result, token))
    return render(request, "registry/resident_import.html", _context(form, None))


def _confirm(request: HttpRequest) -> HttpResponse:
    form = ImportForm()
    upload = uploads.load(request.session, request.POST.get("token", ""), KIND)
    if upload is None:
        messages.error(
            request, _("The checked file is no longer available (it is kept for one hour). Upload it again.")
        )
        return redirect("registry:resident_import")
    result = imports.import_residents(upload, actor=request.user)
    uploads.discard(request.session)
    if not result.ok:
        # the registry changed since the preview (someone registered one of these people)
        return render(request, "registry/resident_import.html", _context(form, result))
    messages.success(
        request,
        _("%(count)d residents imported (%(households)d new households).")
        % {"count": result.created, "households": len(result.new_households)},
    )
    return redirect("registry:resident_list")


@login_required
@require_GET
def resident_import_template(request: HttpRequest) -> HttpResponse:
    """The template: the header row, an example, the grids of the user's area and the special groups."""
    _require(request)
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # noqa: S101 - a new workbook has a sheet
    ws.title = _("Residents")[:31]
    ws.append([c.headers[0] for c in imports.COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    grids = list(selectors.regions_in_scope(request.user, imports.ADD_PERM, (Level.GRID,))[:5000])
    example_grid = grids[0].code if grids else ""
    ws.append(["张三", "", "男", "", "13800138000", example_grid, "", "", "户主", ""])
    for index, width in enumerate((10, 22, 6, 12, 15, 18, 20, 30, 12, 20), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    sheet = wb.create_sheet(_("Grid codes")[:31])
    sheet.append([_("Grid code"), _("Community"), _("Grid")])
    for grid in grids:
        sheet.append([grid.code, grid.parent.name if grid.parent else "", grid.name])
    groups_sheet = wb.create_sheet(_("Special groups")[:31])
    groups_sheet.append([_("Code"), _("Name"), _("Visit every (days)")])
    qs = SpecialGroup.objects.filter(is_active=True)
    if not request.user.has_perm(SENSITIVE_PERMISSION):
        qs = qs.filter(sensitive=False)
    for group in qs:
        groups_sheet.append([group.code, group.name, group.visit_every_days])
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="resident-import-template.xlsx"'
    return response
