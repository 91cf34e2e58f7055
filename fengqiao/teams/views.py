"""Team pages: list, detail (members, cases, patrols), member and patrol forms, findings, resolution rates."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.audit.models import Category as AuditCategory
from fengqiao.audit.services import record
from fengqiao.core.excel import excel_response
from fengqiao.core.personal import index_for
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit

from . import selectors, services
from .forms import EndMemberForm, FindingForm, MemberForm, PatrolForm, RateForm, apply_errors
from .models import TEAM_KINDS, PatrolRecord, TeamMember

VIEW_PERM = "teams.view_teammember"


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _team(request: HttpRequest, pk: int) -> Unit:
    _require(request, VIEW_PERM)
    team = selectors.team(request.user, pk)
    if team is None:
        raise Http404
    return team


def _may(request: HttpRequest, perm: str, team: Unit) -> bool:
    return request.user.has_perm(perm) and services.teams_where(request.user, perm).filter(pk=team.pk).exists()


# --- list and detail ------------------------------------------------------------------------


@login_required
@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW_PERM)
    filters = {k: request.GET.get(k, "").strip() for k in ("kind", "q", "status") if request.GET.get(k, "").strip()}
    page = Paginator(selectors.teams(request.user, filters), selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    open_cases = selectors.open_cases_by_team(request.user, [t.pk for t in page.object_list])
    for t in page.object_list:
        t.open_cases = open_cases.get(t.pk, 0)
    context = {
        "page": page,
        "filters": filters,
        "kinds": [(k.value, k.label) for k in TEAM_KINDS],
        "can_add_team": request.user.has_perm("units.add_unit"),
    }
    return render(request, "teams/team_list.html", context)


@login_required
@require_GET
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    user = request.user
    include_former = request.GET.get("former") == "1"
    cases = selectors.team_cases(user, team) if user.has_perm("cases.view_case") else None
    patrols = selectors.patrols(user, team) if user.has_perm("teams.view_patrolrecord") else None
    start, end = timezone.localdate().replace(month=1, day=1), timezone.localdate()
    rate_rows = selectors.dispute_rates(user, "team", start, end) if cases is not None else []
    rate = next((r for r in rate_rows if r.key == team.pk), None)
    context = {
        "team": team,
        "members": selectors.members(user, team, include_former=include_former),
        "include_former": include_former,
        "cases": cases[:20] if cases is not None else None,
        "case_count": cases.count() if cases is not None else 0,
        "patrols": patrols[:10] if patrols is not None else None,
        "rate": rate,
        "year": start.year,
        "can_add_member": _may(request, "teams.add_teammember", team),
        "can_change_member": _may(request, "teams.change_teammember", team),
        "can_add_patrol": _may(request, "teams.add_patrolrecord", team),
        "can_reveal": user.has_perm(services.REVEAL_PERMISSION),
        "can_change_team": user.has_perm("units.change_unit")
        and Unit.objects.restrict(user, "change").filter(pk=team.pk).exists(),
    }
    return render(request, "teams/team_detail.html", context)


# --- members -------------------------------------------------------------------------------


def _people(request: HttpRequest, team: Unit) -> QuerySet[Any]:
    """Staff accounts that can be linked: active, in the viewer's scope, in the team's street or below."""
    if not request.user.has_perm("accounts.view_user"):
        return get_user_model().objects.none()
    street = team.region_path[:9]
    return (
        get_user_model()
        .objects.restrict(request.user, "view")
        .filter(is_active=True, unit__region_path__startswith=street)
        .select_related("unit")
        .order_by("unit__name", "username")
    )


def _resident(request: HttpRequest, form: MemberForm) -> tuple[bool, Any]:
    number = (form.cleaned_data.get("resident_id_number") or "").strip()
    if not number:
        return True, None
    from fengqiao.registry.models import Resident

    found: Any = (
        Resident.objects.restrict(request.user, "view").filter(id_number_index=index_for("id_number", number)).first()
    )
    if found is None:
        form.add_error("resident_id_number", _("No resident with this ID number in your scope."))
        return False, None
    return True, found


@login_required
@require_http_methods(["GET", "POST"])
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    if not _may(request, "teams.add_teammember", team):
        raise PermissionDenied
    form = MemberForm(request.POST or None, people=_people(request, team))
    if request.method == "POST" and form.is_valid():
        ok, resident = _resident(request, form)
        if ok:
            data = form.cleaned_data
            try:
                services.add_member(
                    actor=request.user,
                    team=team,
                    name=data["name"],
                    phone=data["phone"],
                    role=data["role"],
                    since=data["since"],
                    until=data["until"],
                    skills=data["skills"],
                    user=data["user"],
                    resident=resident,
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("The member was added."))
                return redirect("teams:detail", pk=team.pk)
    return render(request, "teams/member_form.html", {"form": form, "team": team})


def _member(request: HttpRequest, pk: int, action: str = "view") -> TeamMember:
    _require(request, f"teams.{action}_teammember")
    member: TeamMember | None = (
        TeamMember.objects.restrict(request.user, action)
        .select_related("team", "user", "resident")
        .filter(pk=pk)
        .first()
    )
    if member is None:
        raise Http404
    return member


@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk, "change")
    team = member.team
    initial = {
        "role": member.role,
        "since": member.since,
        "until": member.until,
        "skills": member.skills,
        "user": member.user_id,
    }
    form = MemberForm(request.POST or None, initial=initial, people=_people(request, team), editing=True)
    if request.method == "POST" and form.is_valid():
        ok, resident = _resident(request, form)
        if ok:
            data = form.cleaned_data
            try:
                services.update_member(
                    actor=request.user,
                    member=member,
                    name=data["name"] or None,
                    phone=data["phone"] or None,
                    role=data["role"],
                    since=data["since"],
                    until=data["until"],
                    skills=data["skills"],
                    user=data["user"],
                    resident=resident if resident is not None else member.resident,
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("The member was saved."))
                return redirect("teams:detail", pk=team.pk)
    context = {"form": form, "team": team, "member": member, "end_form": EndMemberForm()}
    return render(request, "teams/member_form.html", context)


@login_required
@require_POST
def member_end(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk, "change")
    form = EndMemberForm(request.POST)
    if form.is_valid():
        try:
            services.end_member(actor=request.user, member=member, until=form.cleaned_data["until"])
        except ValidationError as exc:
            for text in exc.messages:
                messages.error(request, text)
        else:
            messages.success(request, _("The membership was ended."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("teams:detail", pk=member.team_id)


@login_required
@require_POST
def member_reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """The member's name or phone in clear for this response only; logged as an access event."""
    if field not in services.REVEALABLE_FIELDS:
        raise Http404
    member: TeamMember | None = TeamMember.objects.restrict(request.user, "view").filter(pk=pk).first()
    reason = request.POST.get("reason", "").strip()
    context: dict[str, Any] = {"member": member, "field": field}
    if member is None:
        raise Http404
    if not reason:
        context["error"] = _("Give the reason for viewing this data (it is written to the access log).")
        return render(request, "teams/_reveal.html", context)
    try:
        context["value"] = services.reveal_member_field(actor=request.user, obj=member, field=field, reason=reason)
    except PermissionDenied as exc:
        raise Http404 from exc
    return render(request, "teams/_reveal.html", context)


# --- patrols -------------------------------------------------------------------------------


def _patrol_form(request: HttpRequest, team: Unit, **kwargs: Any) -> PatrolForm:
    today = timezone.localdate()
    members = TeamMember.objects.filter(team=team, since__lte=today).exclude(
        until__lt=today - datetime.timedelta(days=60)
    )
    grids = Region.objects.current().filter(level=Level.GRID, path__under=team.region_path).order_by("path")
    return PatrolForm(request.POST or None, members=selectors.leaders_first(members), grids=grids, **kwargs)


def _save_patrol(request: HttpRequest, form: PatrolForm, team: Unit, patrol: PatrolRecord | None) -> Any:
    data = form.cleaned_data
    values = {
        "started_at": data["started_at"],
        "ended_at": data["ended_at"],
        "grids": list(data["grids"]),
        "participants": list(data["participants"]),
        "route": data["route"],
        "notes": data["notes"],
        "findings": data["findings"],
    }
    try:
        if patrol is None:
            return services.record_patrol(actor=request.user, team=team, **values)
        return services.update_patrol(actor=request.user, patrol=patrol, **values)
    except ValidationError as exc:
        apply_errors(form, exc)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def patrol_add(request: HttpRequest, pk: int) -> HttpResponse:
    team = _team(request, pk)
    if not _may(request, "teams.add_patrolrecord", team):
        raise PermissionDenied
    now = timezone.localtime().replace(second=0, microsecond=0)
    form = _patrol_form(request, team, initial={"started_at": now - datetime.timedelta(hours=2), "ended_at": now})
    if request.method == "POST" and form.is_valid():
        patrol = _save_patrol(request, form, team, None)
        if patrol is not None:
            messages.success(request, _("The patrol was recorded."))
            return redirect("teams:patrol", pk=patrol.pk)
    return render(request, "teams/patrol_form.html", {"form": form, "team": team})


@login_required
@require_http_methods(["GET", "POST"])
def patrol_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "teams.change_patrolrecord")
    patrol = selectors.patrol(request.user, pk, "change")
    if patrol is None:
        raise Http404
    initial = {
        "started_at": timezone.localtime(patrol.started_at),
        "ended_at": timezone.localtime(patrol.ended_at),
        "grids": list(patrol.grids.all()),
        "participants": list(patrol.participants.all()),
        "route": "" if patrol.route is None else json.dumps(patrol.route, ensure_ascii=False),
        "notes": patrol.notes,
        "findings": patrol.findings,
    }
    form = _patrol_form(request, patrol.team, initial=initial)
    if request.method == "POST" and form.is_valid() and _save_patrol(request, form, patrol.team, patrol) is not None:
        messages.success(request, _("The patrol record was saved."))
        return redirect("teams:patrol", pk=patrol.pk)
    return render(request, "teams/patrol_form.html", {"form": form, "team": patrol.team, "patrol": patrol})


def _categories() -> QuerySet[Any]:
    from fengqiao.cases.models import Category

    return Category.objects.filter(is_active=True).order_by("sort_order", "code")


@login_required
@require_http_methods(["GET", "POST"])
def patrol_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "teams.view_patrolrecord")
    patrol = selectors.patrol(request.user, pk)
    if patrol is None:
        raise Http404
    can_report = request.user.has_perm("teams.add_patrolfinding") and request.user.has_perm("cases.add_case")
    form = FindingForm(request.POST or None, categories=_categories(), initial={"description": patrol.findings})
    if request.method == "POST":
        if not can_report:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                finding = services.report_finding(
                    actor=request.user,
                    patrol=patrol,
                    category=data["category"],
                    description=data["description"],
                    lng=data["lng"],
                    lat=data["lat"],
                    address=data["address"],
                    extra=form.extra(),
                )
            except ValidationError as exc:
                apply_errors(form, exc)
                if "location" in getattr(exc, "error_dict", {}):
                    form.add_error("lng", exc.error_dict["location"])
            else:
                messages.success(
                    request, _("The finding was reported as case %(number)s.") % {"number": finding.case.number}
                )
                return redirect("teams:patrol", pk=patrol.pk)
    context = {
        "patrol": patrol,
        "grids": patrol.grids.order_by("path"),
        "participants": patrol.participants.order_by("role", "id"),
        "reported": patrol.reported.select_related("case", "case__category"),
        "form": form,
        "can_report": can_report,
        "can_change": request.user.has_perm("teams.change_patrolrecord")
        and PatrolRecord.objects.restrict(request.user, "change").filter(pk=patrol.pk).exists(),
        "route_json": json.dumps(patrol.route) if patrol.route else "",
        "patrol_map": {
            "route": patrol.route,
            "grids": [
                {"type": "Feature", "geometry": g.boundary, "properties": {"name": g.name}}
                for g in patrol.grids.exclude(boundary__isnull=True).order_by("path")
            ],
        },
    }
    return render(request, "teams/patrol_detail.html", context)


@login_required
@require_GET
def patrol_list(request: HttpRequest) -> HttpResponse:
    _require(request, "teams.view_patrolrecord")
    page = Paginator(selectors.patrols(request.user), selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "teams/patrol_list.html", {"page": page})


# --- dispute resolution rates --------------------------------------------------------------


def _rate_rows(request: HttpRequest) -> tuple[RateForm, list[selectors.RateRow], dict[str, Any]]:
    _require(request, VIEW_PERM)
    _require(request, "cases.view_case")
    form = RateForm(request.GET)  # every field is optional: empty means the defaults
    if not form.is_valid():
        return form, [], {}
    params = {k: form.cleaned_data[k] for k in ("group", "start", "end", "kind")}
    rows = selectors.dispute_rates(request.user, params["group"], params["start"], params["end"], params["kind"])
    return form, rows, params


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@login_required
@require_GET
def resolution(request: HttpRequest) -> HttpResponse:
    form, rows, params = _rate_rows(request)
    whole = selectors.total(rows)
    chart = {
        "labels": [row.label for row in rows],
        "rates": [None if row.rate is None else round(row.rate * 100, 1) for row in rows],
        "closed": [row.disputes_closed for row in rows],
        "rate_label": _("Resolution rate (%)"),
        "closed_label": _("Disputes closed"),
    }
    context = {"form": form, "rows": rows, "total": whole, "params": params, "chart": chart}
    return render(request, "teams/resolution.html", context)


@login_required
@require_GET
def resolution_export(request: HttpRequest) -> HttpResponseBase:
    _form, rows, params = _rate_rows(request)
    if not params:
        messages.error(request, _("Correct the filters first."))
        return redirect(reverse("teams:resolution") + "?" + request.GET.urlencode())
    headers = [
        _("Group"),
        _("Cases handled by teams"),
        _("Disputes closed"),
        _("Disputes resolved"),
        _("Resolution rate"),
    ]
    body: list[list[Any]] = [
        [row.label, row.cases, row.disputes_closed, row.disputes_resolved, _percent(row.rate)] for row in rows
    ]
    whole = selectors.total(rows)
    body.append([_("Total"), whole.cases, whole.disputes_closed, whole.disputes_resolved, _percent(whole.rate)])
    record(
        "teams.resolution_export",
        actor=request.user,
        category=AuditCategory.ACCESS,
        detail={"filters": {k: str(v) for k, v in params.items()}, "rows": len(rows)},
    )
    name = f"team-dispute-resolution-{params['start']:%Y%m%d}-{params['end']:%Y%m%d}"
    return excel_response(name, headers, body, _("Dispute resolution"))
