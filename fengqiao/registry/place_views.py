"""Place and organisation pages: lists with filters, details, forms, Excel export."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from fengqiao.core.excel import EXPORT_MAX_ROWS, excel_response

from . import place_services, selectors, services
from .forms import apply_errors
from .models import Organisation, OrganisationKind, Place, PlaceKind
from .services import KEEP

FILTER_KEYS = ("community", "grid", "q", "kind")


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _filters(request: HttpRequest) -> dict[str, str]:
    return {k: request.GET.get(k, "").strip() for k in FILTER_KEYS if request.GET.get(k, "").strip()}


def _list_context(request: HttpRequest, perm: str, filters: dict[str, str], qs: Any, kinds: Any) -> dict[str, Any]:
    community = filters.get("community", "")
    return {
        "page": Paginator(qs, selectors.PAGE_SIZE).get_page(request.GET.get("page")),
        "filters": filters,
        "communities": selectors.community_choices(request.user, perm),
        "grids": selectors.grid_choices(request.user, perm, community) if community else [],
        "kinds": kinds.choices,
    }


def _too_many(request: HttpRequest, total: int, list_url: str) -> HttpResponseBase | None:
    if total <= EXPORT_MAX_ROWS:
        return None
    messages.error(
        request,
        _("%(count)d rows match: at most %(max)d can be exported at once. Narrow the filters first.")
        % {"count": total, "max": EXPORT_MAX_ROWS},
    )
    return redirect(f"{reverse(list_url)}?{request.GET.urlencode()}")


def _none_if_empty(value: Any) -> str | None:
    value = (value or "").strip()
    return value or None


# --- places ---------------------------------------------------------------------------


@login_required
@require_GET
def place_list(request: HttpRequest) -> HttpResponse:
    _require(request, "registry.view_place")
    filters = _filters(request)
    qs = selectors.place_list(request.user, filters)
    return render(
        request, "registry/place_list.html", _list_context(request, "registry.view_place", filters, qs, PlaceKind)
    )


@login_required
@require_GET
def place_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, "registry.view_place")
    filters = _filters(request)
    qs = selectors.place_list(request.user, filters)
    total = qs.count()
    refused = _too_many(request, total, "registry:place_list")
    if refused is not None:
        return refused
    services.record_export(actor=request.user, model=Place, filters=filters, rows=total)
    headers = [
        _("Kind"),
        _("Name"),
        _("Address"),
        _("Grid"),
        _("Contact person"),
        _("Contact phone"),
        _("Longitude"),
        _("Latitude"),
        _("Note"),
    ]

    def rows() -> Iterator[list[Any]]:
        for p in qs.iterator(chunk_size=2000):
            yield [
                p.get_kind_display(),
                p.name,
                p.address,
                p.grid.name,
                p.contact_name_masked,
                p.contact_phone_masked,
                p.lng,
                p.lat,
                p.note,
            ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(f"places-{stamp}", headers, rows(), title=_("Places"))


@login_required
@require_GET
def place_detail(request: HttpRequest, pk: int) -> HttpResponse:
    place = get_object_or_404(selectors.place_detail(request.user), pk=pk)
    landlord_visible = (
        place.landlord_id is not None and selectors.resident_detail(request.user).filter(pk=place.landlord_id).exists()
    )
    context = {
        "place": place,
        "landlord": place.landlord if landlord_visible else None,
        "tenants": selectors.place_tenants(request.user, place),
        "can_change": request.user.has_perm("registry.change_place"),
    }
    return render(request, "registry/place_detail.html", context)


def _place_form_page(request: HttpRequest, place: Place | None) -> HttpResponse:
    from .place_forms import PlaceForm

    perm = "registry.add_place" if place is None else "registry.change_place"
    _require(request, perm)
    initial = {}
    if place is not None:
        initial = {f: getattr(place, f) for f in ("kind", "name", "address", "lng", "lat", "note")}
        initial["grid"] = place.grid_id
    form = PlaceForm(request.POST or None, user=request.user, perm=perm, instance=place, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        editing = place is not None
        landlord: Any = data.get("landlord_id_number") or ""
        tenants: Any = [t for t in (data.get("tenant_id_numbers") or "").splitlines() if t.strip()]
        if editing:
            landlord = KEEP if not landlord else ("" if landlord.strip() == "0" else landlord)
            tenants = KEEP if not tenants else ([] if [t.strip() for t in tenants] == ["0"] else tenants)
        pick: Callable[[Any], str | None] = _none_if_empty if editing else (lambda v: v or "")
        try:
            saved = place_services.save_place(
                actor=request.user,
                place=place,
                kind=data["kind"],
                name=data["name"],
                address=data["address"],
                grid=data["grid"],
                lng=data.get("lng"),
                lat=data.get("lat"),
                contact_name=pick(data.get("contact_name")),
                contact_phone=pick(data.get("contact_phone")),
                landlord_id_number=landlord,
                tenant_id_numbers=tenants,
                note=data.get("note") or "",
            )
        except ValidationError as exc:
            apply_errors(form, exc, {"landlord": "landlord_id_number", "tenants": "tenant_id_numbers"})
        except PermissionDenied:
            form.add_error("grid", _("You may not register places in this grid."))
        else:
            messages.success(request, _("Place %(name)s saved.") % {"name": saved.name})
            return redirect("registry:place_detail", pk=saved.pk)
    return render(request, "registry/place_form.html", {"form": form, "place": place})


@login_required
@require_http_methods(["GET", "POST"])
def place_create(request: HttpRequest) -> HttpResponse:
    return _place_form_page(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def place_edit(request: HttpRequest, pk: int) -> HttpResponse:
    place = get_object_or_404(selectors.place_detail(request.user, "change"), pk=pk)
    return _place_form_page(request, place)


# --- organisations --------------------------------------------------------------------


@login_required
@require_GET
def organisation_list(request: HttpRequest) -> HttpResponse:
    _require(request, "registry.view_organisation")
    filters = _filters(request)
    qs = selectors.organisation_list(request.user, filters)
    context = _list_context(request, "registry.view_organisation", filters, qs, OrganisationKind)
    return render(request, "registry/organisation_list.html", context)


@login_required
@require_GET
def organisation_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, "registry.view_organisation")
    filters = _filters(request)
    qs = selectors.organisation_list(request.user, filters)
    total = qs.count()
    refused = _too_many(request, total, "registry:organisation_list")
    if refused is not None:
        return refused
    services.record_export(actor=request.user, model=Organisation, filters=filters, rows=total)
    headers = [
        _("Kind"),
        _("Name"),
        _("Unified social credit code"),
        _("Address"),
        _("Grid"),
        _("Legal representative"),
        _("Contact phone"),
        _("Employees"),
        _("Note"),
    ]

    def rows() -> Iterator[list[Any]]:
        for o in qs.iterator(chunk_size=2000):
            yield [
                o.get_kind_display(),
                o.name,
                o.credit_code,
                o.address,
                o.grid.name,
                o.legal_representative_masked,
                o.contact_phone_masked,
                o.employees,
                o.note,
            ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(f"organisations-{stamp}", headers, rows(), title=_("Organisations"))


@login_required
@require_GET
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(selectors.organisation_detail(request.user), pk=pk)
    context = {"organisation": organisation, "can_change": request.user.has_perm("registry.change_organisation")}
    return render(request, "registry/organisation_detail.html", context)


def _organisation_form_page(request: HttpRequest, organisation: Organisation | None) -> HttpResponse:
    from .place_forms import OrganisationForm

    perm = "registry.add_organisation" if organisation is None else "registry.change_organisation"
    _require(request, perm)
    initial = {}
    if organisation is not None:
        names = ("kind", "name", "credit_code", "address", "lng", "lat", "employees", "note")
        initial = {f: getattr(organisation, f) for f in names}
        initial["grid"] = organisation.grid_id
    form = OrganisationForm(request.POST or None, user=request.user, perm=perm, instance=organisation, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        editing = organisation is not None
        pick: Callable[[Any], str | None] = _none_if_empty if editing else (lambda v: v or "")
        try:
            saved = place_services.save_organisation(
                actor=request.user,
                organisation=organisation,
                kind=data["kind"],
                name=data["name"],
                credit_code=data.get("credit_code") or "",
                address=data["address"],
                grid=data["grid"],
                lng=data.get("lng"),
                lat=data.get("lat"),
                legal_representative=pick(data.get("legal_representative")),
                contact_phone=pick(data.get("contact_phone")),
                employees=data.get("employees"),
                note=data.get("note") or "",
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except PermissionDenied:
            form.add_error("grid", _("You may not register organisations in this grid."))
        else:
            messages.success(request, _("Organisation %(name)s saved.") % {"name": saved.name})
            return redirect("registry:organisation_detail", pk=saved.pk)
    return render(request, "registry/organisation_form.html", {"form": form, "organisation": organisation})


@login_required
@require_http_methods(["GET", "POST"])
def organisation_create(request: HttpRequest) -> HttpResponse:
    return _organisation_form_page(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(selectors.organisation_detail(request.user, "change"), pk=pk)
    return _organisation_form_page(request, organisation)


# --- Excel import ---------------------------------------------------------------------


def _import_page(request: HttpRequest, kind: str) -> HttpResponse:
    from .import_views import ImportForm
    from .place_imports import ORGANISATION_COLUMNS, PLACE_COLUMNS, import_organisations, import_places

    perm, list_url = {
        "place": ("registry.add_place", "registry:place_list"),
        "organisation": ("registry.add_organisation", "registry:organisation_list"),
    }[kind]
    _require(request, perm)
    columns = PLACE_COLUMNS if kind == "place" else ORGANISATION_COLUMNS
    form = ImportForm(request.POST or None, request.FILES or None)
    form.fields["file"].help_text = _("One per row, the headers in the first row.")
    errors: list[Any] = []
    if request.method == "POST" and form.is_valid():
        run = import_places if kind == "place" else import_organisations
        result = run(form.cleaned_data["file"], actor=request.user)
        if result.ok:
            messages.success(request, _("%(count)d rows imported.") % {"count": result.created})
            return redirect(list_url)
        errors = result.errors
    context = {
        "form": form,
        "errors": errors,
        "kind": kind,
        "list_url": list_url,
        "headers": "、".join(c.headers[0] for c in columns),
        "kinds": "、".join(str(label) for _c, label in (PlaceKind if kind == "place" else OrganisationKind).choices),
    }
    return render(request, "registry/place_import.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def place_import(request: HttpRequest) -> HttpResponse:
    return _import_page(request, "place")


@login_required
@require_http_methods(["GET", "POST"])
def organisation_import(request: HttpRequest) -> HttpResponse:
    return _import_page(request, "organisation")
