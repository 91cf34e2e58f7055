"""Region pages: tree browser, details with a map, grid pages, forms, import and export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.audit.models import Category
from fengqiao.audit.services import record
from fengqiao.core.excel import EXPORT_MAX_ROWS, excel_response

from . import selectors, services
from .forms import ImportForm, RegionCreateForm, RegionEditForm, RetireForm, apply_errors
from .imports import XLSX_TEMPLATE_HEADERS, import_regions_geojson, import_regions_xlsx
from .models import Level, Region
from .rules import PARENT_LEVEL

CHILD_LEVEL = {parent: child for child, parent in PARENT_LEVEL.items()}


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _include_retired(request: HttpRequest) -> bool:
    return request.GET.get("all") == "1"


def _region(request: HttpRequest, pk: int, action: str = "view") -> Region:
    _require(request, f"regions.{action}_region")
    return get_object_or_404(Region.objects.restrict(request.user, action).select_related("parent"), pk=pk)


# --- tree and search ---------------------------------------------------------------


@login_required
@require_GET
def tree(request: HttpRequest) -> HttpResponse:
    _require(request, "regions.view_region")
    include_retired = _include_retired(request)
    q = request.GET.get("q", "").strip()
    context: dict[str, Any] = {"q": q, "include_retired": include_retired}
    if q:
        context["page"] = Paginator(selectors.search(request.user, q, include_retired=include_retired), 25).get_page(
            request.GET.get("page")
        )
    else:
        context["nodes"] = selectors.open_tree(request.user, include_retired=include_retired)
    htmx = getattr(request, "htmx", None)
    if htmx and htmx.target == "region-results":
        return render(request, "regions/_results.html", context)
    return render(request, "regions/tree.html", context)


@login_required
@require_GET
def children(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the children of one tree node."""
    region = _region(request, pk)
    include_retired = _include_retired(request)
    nodes = selectors.children(request.user, region, include_retired=include_retired)
    return render(request, "regions/_nodes.html", {"nodes": nodes, "include_retired": include_retired})


def _export_rows(regions: Any) -> Iterator[list[Any]]:
    for r in regions:
        yield [
            r.code,
            r.name,
            str(r.get_level_display()),
            r.parent.code if r.parent else "",
            r.parent.name if r.parent else "",
            r.valid_from,
            r.valid_to,
            r.successor_codes,
            _("yes") if r.boundary else _("no"),
            r.child_count,
        ]


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponseBase:
    """Excel of the search results, of one region's children, or of every region the user can see."""
    _require(request, "regions.view_region")
    include_retired = _include_retired(request)
    parent_id = request.GET.get("parent", "")
    if parent_id.isdigit():
        parent = _region(request, int(parent_id))
        qs = selectors.children(request.user, parent, include_retired=include_retired).select_related("parent")
        name = f"regions-{parent.code}"
    else:
        qs = selectors.search(request.user, request.GET.get("q", ""), include_retired=include_retired)
        name = "regions"
    headers = [
        _("Code"),
        _("Name"),
        _("Level"),
        _("Parent code"),
        _("Parent"),
        _("Valid from"),
        _("Valid until"),
        _("Successor codes"),
        _("Boundary"),
        _("Sub-regions"),
    ]
    filters = {k: v for k, v in request.GET.items() if v and k != "page"}
    rows = min(qs.count(), EXPORT_MAX_ROWS)
    record("region.export", actor=request.user, category=Category.ACCESS, detail={"filters": filters, "rows": rows})
    return excel_response(
        f"{name}-{timezone.localdate():%Y%m%d}", headers, _export_rows(qs[:EXPORT_MAX_ROWS]), _("Regions")
    )


# --- details ------------------------------------------------------------------------


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    region = _region(request, pk)
    if region.level == Level.GRID:
        return redirect("regions:grid_detail", pk=region.pk)
    include_retired = _include_retired(request)
    kids = selectors.children(request.user, region, include_retired=include_retired)
    page = Paginator(kids, 25).get_page(request.GET.get("page"))
    user = request.user
    child_level = CHILD_LEVEL.get(region.level)
    context = {
        "region": region,
        "ancestors": selectors.ancestors(user, region),
        "page": page,
        "include_retired": include_retired,
        "child_level": Level(child_level).label if child_level else None,
        "can_add": bool(child_level)
        and region.is_current
        and user.has_perm("regions.add_region")
        and Region.objects.restrict(user, "add").filter(pk=region.pk).exists(),
        "can_change": user.has_perm("regions.change_region")
        and Region.objects.restrict(user, "change").filter(pk=region.pk).exists(),
        "grid_count": selectors.grids_of(user, region).count(),
        "unit_count": _unit_count(user, region),
    }
    return render(request, "regions/detail.html", context)


def _unit_count(user: Any, region: Region) -> int | None:
    if not user.has_perm("units.view_unit"):
        return None
    from fengqiao.units.models import Unit

    return Unit.objects.restrict(user, "view").filter(region_path__under=region.path, is_active=True).count()


@login_required
@require_GET
def grid_detail(request: HttpRequest, pk: int) -> HttpResponse:
    grid = _region(request, pk)
    if grid.level != Level.GRID:
        return redirect("regions:detail", pk=grid.pk)
    from fengqiao.units.models import GridAssignment, GridRole

    user = request.user
    show_all = request.GET.get("history") == "1"
    assignments: QuerySet[GridAssignment] = (
        GridAssignment.objects.restrict(user, "view").filter(grid=grid).select_related("user", "user__unit")
    )
    today = timezone.localdate()
    if not show_all:
        assignments = assignments.filter(valid_from__lte=today).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
    order = {role: i for i, role in enumerate(GridRole.values)}
    rows = sorted(assignments, key=lambda a: (order.get(a.role, 99), a.valid_from, a.pk))
    context = {
        "region": grid,
        "ancestors": selectors.ancestors(user, grid),
        "assignments": rows,
        "show_all": show_all,
        "today": today,
        "can_view_assignments": user.has_perm("units.view_gridassignment"),
        "can_assign": user.has_perm("units.add_gridassignment"),
        "can_end": user.has_perm("units.change_gridassignment"),
        "can_change": user.has_perm("regions.change_region")
        and Region.objects.restrict(user, "change").filter(pk=grid.pk).exists(),
    }
    return render(request, "regions/grid_detail.html", context)


@login_required
@require_GET
def geojson(request: HttpRequest, pk: int) -> JsonResponse:
    region = _region(request, pk)
    response = JsonResponse(selectors.map_features(request.user, region), json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/geo+json"
    response["Cache-Control"] = "private, no-store"
    return response


# --- forms --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest, parent_pk: int) -> HttpResponse:
    parent = _region(request, parent_pk, "add")
    child_level = CHILD_LEVEL.get(parent.level)
    form = RegionCreateForm(
        request.POST or None, request.FILES or None, initial={"code": parent.code[: len(parent.path)]}
    )
    if request.method == "POST" and form.is_valid():
        try:
            region = services.create_region(
                actor=request.user,
                parent=parent,
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                level=child_level or 0,
                valid_from=form.cleaned_data["valid_from"],
                boundary=form.boundary_value(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(region)s was created.") % {"region": region})
            return redirect(selectors.detail_url(region))
    context = {
        "form": form,
        "parent": parent,
        "child_level": Level(child_level).label if child_level else None,
    }
    return render(request, "regions/form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    region = _region(request, pk, "change")
    initial = {"name": region.name, "valid_from": region.valid_from, "successor_codes": region.successor_codes}
    form = RegionEditForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes: dict[str, Any] = {
            "name": form.cleaned_data["name"],
            "valid_from": form.cleaned_data["valid_from"],
            "successor_codes": form.cleaned_data["successor_codes"],
        }
        given = form.boundary_value()
        if given is not None:
            changes["boundary"] = given
        elif form.cleaned_data["clear_boundary"]:
            changes["boundary"] = None
        try:
            region = services.update_region(actor=request.user, region=region, **changes)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(region)s was saved.") % {"region": region})
            return redirect(selectors.detail_url(region))
    context = {"form": form, "region": region, "retire_form": RetireForm()}
    return render(request, "regions/form.html", context)


@login_required
@require_POST
def retire(request: HttpRequest, pk: int) -> HttpResponse:
    region = _region(request, pk, "change")
    form = RetireForm(request.POST)
    if form.is_valid():
        try:
            services.retire_region(
                actor=request.user,
                region=region,
                valid_to=form.cleaned_data["valid_to"],
                successor_codes=form.cleaned_data["successor_codes"],
            )
        except ValidationError as exc:
            for text in exc.messages:
                messages.error(request, text)
        else:
            messages.success(request, _("%(region)s was retired.") % {"region": region})
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect(selectors.detail_url(region))


# --- import -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest) -> HttpResponse:
    _require(request, "regions.add_region")
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        scope: QuerySet[Region] = Region.objects.restrict(request.user, "add")
        importer = import_regions_xlsx if form.kind == "xlsx" else import_regions_geojson
        result = importer(actor=request.user, file=upload, scope=scope)
        if result.ok:
            messages.success(
                request,
                _("Import finished: %(created)s regions created, %(updated)s updated.")
                % {"created": result.created, "updated": result.updated},
            )
            return redirect("regions:import")
    return render(request, "regions/import.html", {"form": form, "result": result})


@login_required
@require_GET
def import_template(request: HttpRequest) -> HttpResponseBase:
    _require(request, "regions.add_region")
    example = [
        ["440305001000", "粤海街道", "街道", "440305000000", "2024-01-01", ""],
        ["440305001001", "科技园社区", "社区", "440305001000", "2024-01-01", ""],
        [
            "440305001001001",
            "科技园社区第一网格",
            "网格",
            "440305001001",
            "2024-01-01",
            '{"type":"Polygon","coordinates":[[[113.94,22.54],[113.95,22.54],[113.95,22.55],[113.94,22.55],[113.94,22.54]]]}',
        ],
    ]
    return excel_response("regions-import-template", XLSX_TEMPLATE_HEADERS, example, _("Regions"))


# --- the district grid map ------------------------------------------------------------------


def _map_within(request: HttpRequest) -> Region | None:
    """``?within=<region id>``: limit the map to a region in scope (404 outside, like a missing one)."""
    raw = request.GET.get("within", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404
    return _region(request, int(raw))


def _geojson_response(data: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/geo+json"
    response["Cache-Control"] = "private, no-store"
    return response


def _household_tiers() -> Any:
    """``fengqiao.grid.selectors.household_tiers`` when the grid app provides it, else None."""
    try:
        from fengqiao.grid.selectors import household_tiers
    except ImportError:  # the grid app is optional for this map
        return None
    return household_tiers


@login_required
@require_GET
def grid_map(request: HttpRequest) -> HttpResponse:
    _require(request, "regions.view_region")
    within = _map_within(request)
    query = f"?within={within.pk}" if within is not None else ""
    show_households = _household_tiers() is not None and request.user.has_perm("grid.view_householdtier")
    context = {
        "within": within,
        "query": query,
        "show_cases": request.user.has_perm("cases.view_case"),
        "show_households": show_households,
        "grid_count": selectors.visible(request.user).filter(level=Level.GRID).count(),
        "labels": {
            "legend": _("Open cases per grid"),
            "noCases": _("none"),
            "grids": _("Grids"),
            "areas": _("Streets and communities"),
            "households": _("Households by tier"),
            "tiers": {"red": _("red"), "orange": _("orange"), "yellow": _("yellow"), "green": _("green")},
            "open": _("open"),
            "overdue": _("overdue"),
            "loading": _("Loading…"),
            "failed": _("The grid could not be loaded."),
        },
    }
    return render(request, "regions/grid_map.html", context)


@login_required
@require_GET
def grid_map_grids(request: HttpRequest) -> JsonResponse:
    _require(request, "regions.view_region")
    return _geojson_response(selectors.map_grid_features(request.user, _map_within(request)))


@login_required
@require_GET
def grid_map_areas(request: HttpRequest) -> JsonResponse:
    _require(request, "regions.view_region")
    return _geojson_response(selectors.map_area_features(request.user, _map_within(request)))


@login_required
@require_GET
def grid_map_households(request: HttpRequest) -> JsonResponse:
    """Households coloured by their current tier (the grid app's selector), as GeoJSON points."""
    _require(request, "regions.view_region")
    household_tiers = _household_tiers()
    if household_tiers is None or not request.user.has_perm("grid.view_householdtier"):
        raise Http404
    rows = household_tiers(request.user, region=_map_within(request))
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row["lng"], row["lat"]]},
            "properties": {"id": row["id"], "tier": row["tier"]},
        }
        for row in rows
    ]
    return _geojson_response({"type": "FeatureCollection", "features": features})


@login_required
@require_GET
def grid_map_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The side panel of one grid (an HTML fragment fetched when a grid is clicked)."""
    grid = _region(request, pk)
    if grid.level != Level.GRID:
        raise Http404
    context = selectors.grid_panel(request.user, grid)
    context["community"] = grid.parent
    return render(request, "regions/_grid_panel.html", context)
