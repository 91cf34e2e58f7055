"""Unit pages (list, detail, forms, export) and grid responsibility (assign, end, list, export)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.audit.models import Category
from fengqiao.audit.services import record
from fengqiao.core.excel import EXPORT_MAX_ROWS, excel_response
from fengqiao.regions.models import Region

from . import selectors, services
from .forms import AssignmentForm, EndAssignmentForm, UnitForm, apply_errors
from .models import GridAssignment, GridRole, Unit, UnitKind

UNIT_FILTERS = ("kind", "region", "status", "q")
ASSIGNMENT_FILTERS = ("role", "grid", "history", "unit")


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _filters(params: QueryDict, keys: tuple[str, ...]) -> dict[str, str]:
    return {key: params.get(key, "").strip() for key in keys if params.get(key, "").strip()}


def _record_export(request: HttpRequest, action: str, qs: QuerySet[Any]) -> None:
    """Log who exported which list (an access event: the file leaves the platform)."""
    filters = {k: v for k, v in request.GET.items() if v and k != "page"}
    rows = min(qs.count(), EXPORT_MAX_ROWS)
    record(action, actor=request.user, category=Category.ACCESS, detail={"filters": filters, "rows": rows})


def _htmx_target(request: HttpRequest) -> str | None:
    htmx = getattr(request, "htmx", None)
    return htmx.target if htmx else None


# --- units ----------------------------------------------------------------------------


@login_required
@require_GET
def unit_list(request: HttpRequest) -> HttpResponse:
    _require(request, "units.view_unit")
    filters = _filters(request.GET, UNIT_FILTERS)
    page = Paginator(selectors.unit_list(request.user, filters), selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filters": filters, "kinds": UnitKind.choices}
    if _htmx_target(request) == "unit-results":
        return render(request, "units/_unit_results.html", context)
    return render(request, "units/unit_list.html", context)


def _unit_rows(units: Any) -> Iterator[list[Any]]:
    for u in units:
        yield [
            u.code,
            u.name,
            str(u.get_kind_display()),
            u.region.code,
            u.region.name,
            u.parent.name if u.parent else "",
            u.phone,
            u.address,
            _("active") if u.is_active else _("deactivated"),
        ]


@login_required
@require_GET
def unit_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, "units.view_unit")
    qs = selectors.unit_list(request.user, _filters(request.GET, UNIT_FILTERS))
    headers = [
        _("Unit code"),
        _("Name"),
        _("Kind"),
        _("Region code"),
        _("Region"),
        _("Parent unit"),
        _("Phone"),
        _("Address"),
        _("Status"),
    ]
    _record_export(request, "unit.export", qs)
    return excel_response(f"units-{timezone.localdate():%Y%m%d}", headers, _unit_rows(qs[:EXPORT_MAX_ROWS]), _("Units"))


def _unit(request: HttpRequest, pk: int, action: str = "view") -> Unit:
    _require(request, f"units.{action}_unit")
    return get_object_or_404(Unit.objects.restrict(request.user, action).select_related("region", "parent"), pk=pk)


@login_required
@require_GET
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _unit(request, pk)
    user = request.user
    from django.contrib.auth import get_user_model

    members = None
    if user.has_perm("accounts.view_user"):
        members = get_user_model().objects.restrict(user, "view").filter(unit=unit).order_by("username")
    sub_units: QuerySet[Unit] = Unit.objects.restrict(user, "view").filter(parent=unit).select_related("region")
    today = timezone.localdate()
    assignments = (
        selectors.assignment_list(user, {"unit": str(unit.pk)}) if user.has_perm("units.view_gridassignment") else None
    )
    context = {
        "unit": unit,
        "members": members,
        "sub_units": sub_units,
        "assignments": assignments,
        "today": today,
        "can_change": user.has_perm("units.change_unit")
        and Unit.objects.restrict(user, "change").filter(pk=unit.pk).exists(),
    }
    return render(request, "units/unit_detail.html", context)


def _unit_form(request: HttpRequest, *, initial: dict[str, Any] | None = None, perm: str) -> UnitForm:
    return UnitForm(
        request.POST or None,
        initial=initial,
        regions=selectors.unit_regions(request.user, perm),
        parents=selectors.parent_unit_choices(request.user),
    )


@login_required
@require_http_methods(["GET", "POST"])
def unit_create(request: HttpRequest) -> HttpResponse:
    _require(request, "units.add_unit")
    initial: dict[str, Any] = {}
    region_id = request.GET.get("region", "")
    if region_id.isdigit():
        region = selectors.unit_regions(request.user).filter(pk=int(region_id)).first()
        if region is not None:
            initial["region"] = region.code
    form = _unit_form(request, initial=initial, perm="units.add_unit")
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.create_unit(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The unit %(unit)s was created.") % {"unit": unit})
            return redirect("units:detail", pk=unit.pk)
    return render(request, "units/unit_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def unit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _unit(request, pk, "change")
    initial = {
        "name": unit.name,
        "code": unit.code,
        "kind": unit.kind,
        "region": unit.region.code,
        "parent": unit.parent_id,
        "phone": unit.phone,
        "address": unit.address,
    }
    form = _unit_form(request, initial=initial, perm="units.change_unit")
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.update_unit(actor=request.user, unit=unit, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The unit %(unit)s was saved.") % {"unit": unit})
            return redirect("units:detail", pk=unit.pk)
    return render(request, "units/unit_form.html", {"form": form, "unit": unit})


@login_required
@require_POST
def unit_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _unit(request, pk, "change")
    active = request.POST.get("active") == "1"
    try:
        if active:
            services.reactivate_unit(actor=request.user, unit=unit)
            messages.success(request, _("The unit %(unit)s was reactivated.") % {"unit": unit})
        else:
            services.deactivate_unit(actor=request.user, unit=unit)
            messages.success(request, _("The unit %(unit)s was deactivated.") % {"unit": unit})
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("units:detail", pk=unit.pk)


# --- grid responsibility -------------------------------------------------------------------


@login_required
@require_GET
def assignment_list(request: HttpRequest) -> HttpResponse:
    _require(request, "units.view_gridassignment")
    filters = _filters(request.GET, ASSIGNMENT_FILTERS)
    qs = selectors.assignment_list(request.user, filters)
    page = Paginator(qs, selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filters": filters, "roles": GridRole.choices, "today": timezone.localdate()}
    if _htmx_target(request) == "assignment-results":
        return render(request, "units/_assignment_results.html", context)
    return render(request, "units/assignment_list.html", context)


def _assignment_rows(assignments: Any) -> Iterator[list[Any]]:
    for a in assignments:
        yield [
            a.grid.code,
            a.grid.name,
            str(a.get_role_display()),
            str(a.user),
            a.user.username,
            str(a.user.unit) if a.user.unit_id else "",
            a.valid_from,
            a.valid_to,
        ]


@login_required
@require_GET
def assignment_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, "units.view_gridassignment")
    qs = selectors.assignment_list(request.user, _filters(request.GET, ASSIGNMENT_FILTERS))
    headers = [
        _("Grid code"),
        _("Grid"),
        _("Responsibility"),
        _("Person"),
        _("Username"),
        _("Unit"),
        _("From"),
        _("Until"),
    ]
    _record_export(request, "grid_assignment.export", qs)
    return excel_response(
        f"grid-responsibility-{timezone.localdate():%Y%m%d}",
        headers,
        _assignment_rows(qs[:EXPORT_MAX_ROWS]),
        _("Grid responsibility"),
    )


@login_required
@require_http_methods(["GET", "POST"])
def assignment_create(request: HttpRequest) -> HttpResponse:
    _require(request, "units.add_gridassignment")
    grids = selectors.assignable_grids(request.user).order_by("path")
    initial: dict[str, Any] = {}
    grid_id = request.GET.get("grid", "")
    grid: Region | None = None
    if grid_id.isdigit():
        grid = grids.filter(pk=int(grid_id)).first()
        if grid is not None:
            initial["grid"] = grid.pk
    form = AssignmentForm(
        request.POST or None, initial=initial, grids=grids, people=selectors.assignable_people(request.user)
    )
    if request.method == "POST" and form.is_valid():
        try:
            assignment = services.assign_grid(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(user)s is now %(role)s of %(grid)s.")
                % {"user": assignment.user, "role": assignment.get_role_display(), "grid": assignment.grid.name},
            )
            return redirect("regions:grid_detail", pk=assignment.grid_id)
    return render(request, "units/assignment_form.html", {"form": form, "grid": grid})


@login_required
@require_POST
def assignment_end(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "units.change_gridassignment")
    assignment: GridAssignment = get_object_or_404(GridAssignment.objects.restrict(request.user, "change"), pk=pk)
    form = EndAssignmentForm(request.POST)
    if form.is_valid():
        try:
            services.end_assignment(actor=request.user, assignment=assignment, valid_to=form.cleaned_data["valid_to"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("The assignment was ended."))
    else:
        messages.error(request, _("Enter a valid end date."))
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("regions:grid_detail", pk=assignment.grid_id)
