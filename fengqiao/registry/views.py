"""Registry pages: resident and household lists, details, forms, export, and the logged reveal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.core.excel import EXPORT_MAX_ROWS, excel_response

from . import selectors, services
from .forms import HouseholdForm, MembershipForm, ResidentForm, apply_errors
from .models import Gender, Household, Resident

FILTER_KEYS = ("community", "grid", "q", "group")


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _filters(params: QueryDict) -> dict[str, str]:
    return {key: params.get(key, "").strip() for key in FILTER_KEYS if params.get(key, "").strip()}


def _filter_context(request: HttpRequest, perm: str, filters: dict[str, str]) -> dict[str, Any]:
    community = filters.get("community", "")
    return {
        "filters": filters,
        "communities": selectors.community_choices(request.user, perm),
        "grids": selectors.grid_choices(request.user, perm, community) if community else [],
        "groups": selectors.visible_groups(request.user).filter(is_active=True) if perm.endswith("resident") else [],
    }


def _paged(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, selectors.PAGE_SIZE).get_page(request.GET.get("page"))


# --- residents --------------------------------------------------------------------


@login_required
@require_GET
def resident_list(request: HttpRequest) -> HttpResponse:
    _require(request, "registry.view_resident")
    filters = _filters(request.GET)
    page = _paged(request, selectors.resident_list(request.user, filters))
    context = {"page": page, **_filter_context(request, "registry.view_resident", filters)}
    return render(request, "registry/resident_list.html", context)


@login_required
@require_GET
def grid_options(request: HttpRequest) -> HttpResponse:
    """htmx: the grid <option>s of one community, for the list filters."""
    perm = {
        "household": "registry.view_household",
        "place": "registry.view_place",
        "organisation": "registry.view_organisation",
    }.get(request.GET.get("for", ""), "registry.view_resident")
    _require(request, perm)
    community = request.GET.get("community", "").strip()
    grids = selectors.grid_choices(request.user, perm, community) if community else []
    return render(request, "registry/_grid_options.html", {"grids": grids, "selected": ""})


def _gender_label(value: str) -> str:
    return str(Gender(value).label) if value in Gender.values else value


@login_required
@require_GET
def resident_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, "registry.view_resident")
    filters = _filters(request.GET)
    qs = selectors.resident_list(request.user, filters)
    total = qs.count()
    if total > EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("%(count)d residents match: at most %(max)d can be exported at once. Narrow the filters first.")
            % {"count": total, "max": EXPORT_MAX_ROWS},
        )
        return redirect(f"{reverse('registry:resident_list')}?{request.GET.urlencode()}")
    services.record_export(actor=request.user, model=Resident, filters=filters, rows=total)
    headers = [
        pgettext("person", "Name"),
        _("Gender"),
        _("Age"),
        _("ID number"),
        _("Phone"),
        _("Grid"),
        _("Household number"),
        _("Special groups"),
    ]
    today = timezone.localdate()
    current = Prefetch(
        "memberships",
        queryset=selectors.current_memberships(request.user, today).select_related("group"),
        to_attr="current_memberships",
    )

    def rows() -> Iterator[list[Any]]:
        # masked columns only: nothing is decrypted for an export
        for resident in qs.select_related("household").prefetch_related(current).iterator(chunk_size=2000):
            yield [
                resident.name_masked,
                _gender_label(resident.gender),
                resident.age(today),
                resident.id_number_masked,
                resident.phone_masked,
                resident.grid.name,
                resident.household.number if resident.household else "",
                "、".join(m.group.name for m in resident.current_memberships),
            ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(f"residents-{stamp}", headers, rows(), title=_("Residents"))


@login_required
@require_GET
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    resident = get_object_or_404(selectors.resident_detail(request.user), pk=pk)
    return render(request, "registry/resident_detail.html", _detail_context(request, resident))


PERSONAL_LABELS = {"name": pgettext_lazy("person", "Name"), "id_number": _lazy("ID number"), "phone": _lazy("Phone")}


def _detail_context(
    request: HttpRequest,
    resident: Resident,
    *,
    revealed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    membership_form: MembershipForm | None = None,
    edit_forms: dict[int, MembershipForm] | None = None,
) -> dict[str, Any]:
    revealed = revealed or {}
    errors = errors or {}
    fields = [
        {
            "field": name,
            "label": PERSONAL_LABELS[name],
            "masked": getattr(resident, f"{name}_masked"),
            "value": revealed.get(name),
            "error": errors.get(name, ""),
        }
        for name in services.REVEALABLE_FIELDS
    ]
    today = timezone.localdate()
    may_edit_groups = request.user.has_perm("registry.change_resident") and (
        selectors.resident_detail(request.user, "change").filter(pk=resident.pk).exists()
    )
    edit_forms = edit_forms or {}
    memberships = [
        {
            "m": m,
            "current": m.is_current(today),
            "form": edit_forms.get(m.pk)
            or MembershipForm(
                user=request.user,
                editing=True,
                prefix=f"m{m.pk}",
                initial={"since": m.since, "until": m.until, "note": m.note},
            ),
        }
        for m in selectors.resident_memberships(request.user, resident)
    ]
    return {
        "memberships": memberships,
        "membership_form": membership_form or MembershipForm(user=request.user, initial={"since": today}, prefix="new"),
        "can_add_group": may_edit_groups and request.user.has_perm("registry.add_groupmembership"),
        "can_change_group": may_edit_groups and request.user.has_perm("registry.change_groupmembership"),
        "can_delete_group": may_edit_groups and request.user.has_perm("registry.delete_groupmembership"),
        "resident": resident,
        "personal_fields": fields,
        "can_reveal": request.user.has_perm(services.REVEAL_PERMISSION),
        "can_change": request.user.has_perm("registry.change_resident"),
        "any_revealed": bool(revealed),
    }


@login_required
@require_POST
@never_cache
def resident_reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """Show one personal field in plaintext, for this response only; logged as an access event.

    Out of scope, unknown or without the reveal permission: 404 (logged as a
    refused attempt), so a caller cannot tell a hidden resident from a missing one.
    """
    if field not in services.REVEALABLE_FIELDS:
        raise Http404
    visible = selectors.resident_detail(request.user).filter(pk=pk).first()
    reason = request.POST.get("reason", "").strip()
    if visible is not None and not reason and request.user.has_perm(services.REVEAL_PERMISSION):
        error = _("Give the reason for viewing this data (it is written to the access log).")
        return _reveal_response(request, visible, field, error=error)
    try:
        value = services.reveal_personal_field(
            actor=request.user, obj=visible or Resident(pk=pk), field=field, reason=reason
        )
    except PermissionDenied as exc:
        raise Http404 from exc
    assert visible is not None  # noqa: S101 - the service refuses anything not visible
    return _reveal_response(request, visible, field, value=value)


def _reveal_response(
    request: HttpRequest, resident: Resident, field: str, *, value: str | None = None, error: str = ""
) -> HttpResponse:
    revealed = {field: value} if value is not None else {}
    errors = {field: error} if error else {}
    context = _detail_context(request, resident, revealed=revealed, errors=errors)
    if request.htmx:  # type: ignore[attr-defined]
        item = next(f for f in context["personal_fields"] if f["field"] == field)
        return render(request, "registry/_reveal_field.html", {**context, "item": item})
    return render(request, "registry/resident_detail.html", context)


@login_required
@require_POST
def membership_add(request: HttpRequest, pk: int) -> HttpResponse:
    resident = get_object_or_404(selectors.resident_detail(request.user, "change"), pk=pk)
    form = MembershipForm(request.POST, user=request.user, prefix="new")
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.add_membership(
                actor=request.user,
                resident=resident,
                group=data["group"],
                since=data["since"],
                until=data.get("until"),
                note=data.get("note") or "",
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Added to the group %(name)s.") % {"name": membership.group.name})
            return redirect("registry:resident_detail", pk=resident.pk)
    context = _detail_context(request, resident, membership_form=form)
    return render(request, "registry/resident_detail.html", context, status=400)


@login_required
@require_POST
def membership_edit(request: HttpRequest, pk: int, mid: int) -> HttpResponse:
    resident = get_object_or_404(selectors.resident_detail(request.user, "change"), pk=pk)
    membership = get_object_or_404(selectors.resident_memberships(request.user, resident), pk=mid)
    if request.POST.get("action") == "delete":
        try:
            services.delete_membership(actor=request.user, membership=membership)
        except PermissionDenied as exc:
            raise Http404 from exc
        messages.success(request, _("Removed from the group %(name)s.") % {"name": membership.group.name})
        return redirect("registry:resident_detail", pk=resident.pk)
    form = MembershipForm(request.POST, user=request.user, editing=True, prefix=f"m{membership.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.update_membership(
                actor=request.user,
                membership=membership,
                since=data["since"],
                until=data.get("until"),
                note=data.get("note") or "",
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except PermissionDenied as exc:
            raise Http404 from exc
        else:
            messages.success(request, _("Membership of %(name)s saved.") % {"name": membership.group.name})
            return redirect("registry:resident_detail", pk=resident.pk)
    context = _detail_context(request, resident, edit_forms={membership.pk: form})
    return render(request, "registry/resident_detail.html", context, status=400)


def _resident_args(form: ResidentForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "grid": data["grid"],
        "gender": data.get("gender") or "",
        "birth_date": data.get("birth_date"),
        "relation": data.get("relation") or "",
        "household": form.household,
    }


def _show_warnings(request: HttpRequest, warnings: list[str]) -> None:
    for warning in warnings:
        messages.warning(request, warning)


@login_required
@require_http_methods(["GET", "POST"])
def resident_create(request: HttpRequest) -> HttpResponse:
    perm = "registry.add_resident"
    _require(request, perm)
    form = ResidentForm(request.POST or None, user=request.user, perm=perm)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            resident, warnings = services.create_resident(
                actor=request.user,
                name=data["name"],
                id_number=data.get("id_number") or "",
                phone=data.get("phone") or "",
                **_resident_args(form),
            )
        except ValidationError as exc:
            apply_errors(form, exc, {"household": "household_number"})
        except PermissionDenied:
            form.add_error("grid", _("You may not register residents in this grid."))
        else:
            messages.success(request, _("Resident %(name)s registered.") % {"name": resident.name_masked})
            _show_warnings(request, warnings)
            return redirect("registry:resident_detail", pk=resident.pk)
    return render(request, "registry/resident_form.html", {"form": form, "resident": None})


@login_required
@require_http_methods(["GET", "POST"])
def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    perm = "registry.change_resident"
    resident = get_object_or_404(selectors.resident_detail(request.user, "change"), pk=pk)
    _require(request, perm)
    initial = {
        "grid": resident.grid_id,
        "gender": resident.gender,
        "birth_date": resident.birth_date,
        "relation": resident.relation,
        "household_number": resident.household.number if resident.household else "",
    }
    form = ResidentForm(request.POST or None, user=request.user, perm=perm, instance=resident, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        phone: str | None = data.get("phone") or None
        if data.get("clear_phone"):
            phone = ""
        try:
            resident, warnings = services.update_resident(
                actor=request.user,
                resident=resident,
                name=data.get("name") or None,
                id_number=data.get("id_number") or None,
                phone=phone,
                **_resident_args(form),
            )
        except ValidationError as exc:
            apply_errors(form, exc, {"household": "household_number"})
        except PermissionDenied:
            form.add_error("grid", _("You may not move residents to this grid."))
        else:
            messages.success(request, _("Resident %(name)s saved.") % {"name": resident.name_masked})
            _show_warnings(request, warnings)
            return redirect("registry:resident_detail", pk=resident.pk)
    return render(request, "registry/resident_form.html", {"form": form, "resident": resident})


# --- households -------------------------------------------------------------------


@login_required
@require_GET
def household_list(request: HttpRequest) -> HttpResponse:
    _require(request, "registry.view_household")
    filters = _filters(request.GET)
    page = _paged(request, selectors.household_list(request.user, filters))
    context = {"page": page, **_filter_context(request, "registry.view_household", filters)}
    return render(request, "registry/household_list.html", context)


@login_required
@require_GET
def household_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, "registry.view_household")
    filters = _filters(request.GET)
    qs = selectors.household_list(request.user, filters)
    total = qs.count()
    if total > EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("%(count)d households match: at most %(max)d can be exported at once. Narrow the filters first.")
            % {"count": total, "max": EXPORT_MAX_ROWS},
        )
        return redirect(f"{reverse('registry:household_list')}?{request.GET.urlencode()}")
    services.record_export(actor=request.user, model=Household, filters=filters, rows=total)
    headers = [_("Household number"), _("Address"), _("Grid"), _("Longitude"), _("Latitude")]
    rows = ([h.number, h.address, h.grid.name, h.lng, h.lat] for h in qs.iterator(chunk_size=2000))
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(f"households-{stamp}", headers, rows, title=_("Households"))


@login_required
@require_GET
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_object_or_404(selectors.household_detail(request.user), pk=pk)
    members = selectors.household_members(request.user, household)
    context = {
        "household": household,
        "members": members,
        "can_change": request.user.has_perm("registry.change_household"),
        "can_add_resident": request.user.has_perm("registry.add_resident"),
    }
    return render(request, "registry/household_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def household_create(request: HttpRequest) -> HttpResponse:
    perm = "registry.add_household"
    _require(request, perm)
    form = HouseholdForm(request.POST or None, user=request.user, perm=perm)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            household = services.create_household(
                actor=request.user,
                grid=data["grid"],
                number=data.get("number") or "",
                address=data["address"],
                lng=data.get("lng"),
                lat=data.get("lat"),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except PermissionDenied:
            form.add_error("grid", _("You may not register households in this grid."))
        else:
            messages.success(request, _("Household %(number)s registered.") % {"number": household.number})
            return redirect("registry:household_detail", pk=household.pk)
    return render(request, "registry/household_form.html", {"form": form, "household": None})


@login_required
@require_http_methods(["GET", "POST"])
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    perm = "registry.change_household"
    household = get_object_or_404(selectors.household_detail(request.user, "change"), pk=pk)
    _require(request, perm)
    initial = {"grid": household.grid_id, "address": household.address, "lng": household.lng, "lat": household.lat}
    form = HouseholdForm(request.POST or None, user=request.user, perm=perm, instance=household, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            household = services.update_household(
                actor=request.user,
                household=household,
                grid=data["grid"],
                address=data["address"],
                lng=data.get("lng"),
                lat=data.get("lat"),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except PermissionDenied:
            form.add_error("grid", _("You may not move households to this grid."))
        else:
            messages.success(request, _("Household %(number)s saved.") % {"number": household.number})
            return redirect("registry:household_detail", pk=household.pk)
    return render(request, "registry/household_form.html", {"form": form, "household": household})
