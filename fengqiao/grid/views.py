"""Pages of the grid app: "my grid" (phone), a household's visits and tier history,
the visit form (phone), the reviewers' visit list, visit photos, the assessment model."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from fengqiao.cases.models import Category
from fengqiao.core.paging import CappedPaginator
from fengqiao.regions.models import Region
from fengqiao.registry.models import Household, Resident

from . import scoring, selectors, services
from .forms import VisitForm, level_lines, model_from_post
from .models import AssessmentModel, Tier, VisitPhoto

TIER_COLOURS = {"red": "#dc2626", "orange": "#ea580c", "yellow": "#ca8a04", "green": "#16a34a", "": "#616e7c"}


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _tier_labels() -> dict[str, str]:
    return {str(value): str(label) for value, label in Tier.choices}


@login_required
@require_GET
def my_grid(request: HttpRequest) -> HttpResponse:
    """The grid worker's phone page: tiers, overdue follow-ups, households to visit, open cases, the map."""
    _need(request, "grid.view_householdtier")
    user: Any = request.user
    grids = selectors.my_grids(user)
    own = bool(grids)
    if not own:
        grids = list(selectors.grids_in_scope(user)[:500])
    chosen_id = request.GET.get("grid", "")
    grid: Region | None = None
    if chosen_id:
        grid = next((g for g in grids if str(g.pk) == chosen_id), None)
        if grid is None:
            raise Http404
    elif grids:
        grid = grids[0]
    context: dict[str, Any] = {"grids": grids, "grid": grid, "own": own, "tier_labels": _tier_labels()}
    if grid is not None:
        counts = selectors.tier_counts(user, grid.path)
        days = selectors.follow_up_days()
        context.update(
            counts=[(tier, _tier_labels()[tier], counts[tier], days[tier]) for tier in scoring.TIERS],
            unassessed=counts["unassessed"],
            overdue=selectors.overdue_followups(user, grid.path),
            group_overdue=selectors.overdue_group_members(user, grid.path),
            to_visit=list(selectors.households_to_visit(user, grid.path)),
            open_cases=list(selectors.open_cases(user, grid.path)),
            map_data={
                "boundary": grid.boundary,
                "households": selectors.household_map_points(user, grid.path),
                "colours": TIER_COLOURS,
                "labels": {**_tier_labels(), "": _("Not assessed")},
                "household_url": reverse("grid:household", args=[0]),
            },
            can_visit=user.has_perm(services.VISIT_PERMISSION),
        )
    return render(request, "grid/my_grid.html", context)


def _household(request: HttpRequest, pk: int) -> Household:
    return get_object_or_404(Household.objects.restrict(request.user).select_related("grid", "grid__parent"), pk=pk)


@login_required
@require_GET
def household(request: HttpRequest, pk: int) -> HttpResponse:
    """A household's current tier with its reasons, the tier history chart, assessments and visits."""
    _need(request, "grid.view_householdtier")
    target = _household(request, pk)
    user: Any = request.user
    history = list(selectors.assessments(user, target))
    state = selectors.tier_state(user, target)
    days = selectors.follow_up_days()
    due = None
    if state is not None:
        due = state.last_followed_at + datetime.timedelta(days=days[state.tier])
    chart = {
        "points": [
            {"at": timezone.localtime(a.assessed_at).strftime("%Y-%m-%d %H:%M"), "tier": a.tier, "score": a.score}
            for a in history
        ],
        "tiers": [[t, _tier_labels()[t], TIER_COLOURS[t]] for t in reversed(scoring.TIERS)],
    }
    return render(
        request,
        "grid/household.html",
        {
            "household": target,
            "state": state,
            "due": due,
            "overdue": due is not None and due < timezone.now(),
            "history": list(reversed(history)),
            "chart": chart,
            "visits": list(selectors.visits(user, target)[:50]),
            "can_visit": user.has_perm(services.VISIT_PERMISSION),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def visit_new(request: HttpRequest) -> HttpResponse:
    """The phone visit form; the assessment is part of it (leave every factor empty for a plain visit)."""
    _need(request, services.VISIT_PERMISSION)
    user: Any = request.user
    households: QuerySet[Household] = (
        Household.objects.restrict(user).select_related("grid").order_by("region_path", "number")
    )
    fixed: Household | None = None
    wanted = request.POST.get("household") or request.GET.get("household") or ""
    if wanted.isdigit():
        fixed = households.filter(pk=int(wanted)).first()
        if fixed is None:
            raise Http404
    grid_id = request.GET.get("grid", "")
    if fixed is not None:
        choices = households.filter(pk=fixed.pk)
    elif grid_id.isdigit():
        choices = households.filter(grid_id=int(grid_id))
    else:
        mine = selectors.my_grids(user)
        choices = households.filter(grid__in=mine) if mine else households.none()
    members = Resident.objects.restrict(user).filter(household=fixed) if fixed is not None else None
    model = services.current_model()
    form = VisitForm(
        request.POST or None,
        initial={"household": fixed.pk if fixed else None},
        households=choices,
        members=members,
        model=model,
    )
    photos = request.FILES.getlist("photos")
    if request.method == "POST" and form.is_valid():
        try:
            visit = services.record_visit(
                actor=user,
                household=form.cleaned_data["household"],
                visited_at=form.cleaned_data["visited_at"],
                lng=form.cleaned_data["lng"],
                lat=form.cleaned_data["lat"],
                notes=form.cleaned_data["notes"],
                files=photos,
                resident=form.cleaned_data["resident"],
                answers=form.answers(),
            )
        except PermissionDenied as exc:
            raise Http404 from exc
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            assessment = visit.assessments.select_related("case").first()
            if visit.outside_grid:
                messages.warning(
                    request,
                    _(
                        "The visit was recorded, but your location is outside the household's grid: "
                        "it is flagged for review."
                    ),
                )
            if assessment is None:
                messages.success(request, _("The visit was recorded."))
            else:
                messages.success(
                    request,
                    _("The visit and the assessment were recorded: %(tier)s.")
                    % {"tier": assessment.get_tier_display()},
                )
                if assessment.case is not None:
                    messages.warning(
                        request,
                        _("The household is red: case %(number)s was opened for the mediation team or the police.")
                        % {"number": assessment.case.number},
                    )
            return redirect("grid:household", pk=visit.household_id)
    return render(
        request,
        "grid/visit_form.html",
        {"form": form, "household": fixed, "model": model, "max_photos": services.MAX_PHOTOS},
        status=400 if request.method == "POST" else 200,
    )


def _add_errors(form: VisitForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        if field in ("photos", "location"):  # shown next to their inputs (not form fields)
            form.extra_errors = {**getattr(form, "extra_errors", {}), field: errors}  # type: ignore[attr-defined]
        elif field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, errors)


@login_required
@require_GET
def visit_list(request: HttpRequest) -> HttpResponse:
    """Visits in scope for reviewers; "flagged" shows only those located outside the household's grid."""
    _need(request, "grid.view_visit")
    flagged = request.GET.get("flagged") == "1"
    qs = selectors.visits(request.user, flagged=flagged)
    page = CappedPaginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "grid/visit_list.html", {"page": page, "flagged": flagged})


@login_required
@require_GET
def visit_photo(request: HttpRequest, pk: int, photo: int) -> FileResponse:
    _need(request, "grid.view_visit")
    visit = get_object_or_404(selectors.visits(request.user), pk=pk)
    item = get_object_or_404(VisitPhoto.objects.filter(visit=visit), pk=photo)
    try:
        handle = item.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type=item.content_type or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def model_page(request: HttpRequest) -> HttpResponse:
    """The assessment model: the current version, its history, and (with the permission) the editor."""
    _need(request, "grid.view_assessmentmodel")
    user: Any = request.user
    current = services.current_model()
    can_edit = user.has_perm(services.MODEL_PERMISSION)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        values = model_from_post(request.POST)
        try:
            created = services.save_model_version(actor=user, **values)
        except ValidationError as exc:
            errors = exc.message_dict
            rows = [{**f, "levels_text": request.POST.get(f"f{i}-levels", "")} for i, f in enumerate(values["factors"])]
            form_values = {**values, "rows": rows}
        else:
            messages.success(
                request, _("Version %(n)d of the assessment model is now in use.") % {"n": created.version}
            )
            return redirect("grid:model")
    else:
        form_values = {
            "rows": [{**f, "levels_text": level_lines(f)} for f in current.factors],
            "thresholds": current.thresholds,
            "follow_up_days": current.follow_up_days,
            "case_category_code": current.case_category_code,
            "note": "",
        }
    rows = (
        list(form_values["rows"])
        + [{"code": "", "label": "", "label_en": "", "weight": 1, "required": False, "levels_text": ""}] * 2
    )
    return render(
        request,
        "grid/model.html",
        {
            "current": current,
            "versions": AssessmentModel.objects.restrict(user).select_related("created_by").order_by("-version")[:50],
            "can_edit": can_edit,
            "errors": errors,
            "general_errors": [
                *errors.get("factors", []),
                *errors.get("thresholds", []),
                *errors.get("__all__", []),
            ],
            "values": form_values,
            "rows": rows,
            "tiers": [(t, _tier_labels()[t]) for t in scoring.TIERS],
            "threshold_tiers": [(t, _tier_labels()[t]) for t in (scoring.RED, scoring.ORANGE, scoring.YELLOW)],
            "categories": Category.objects.filter(is_active=True).order_by("sort_order", "code"),
        },
        status=400 if errors else 200,
    )
