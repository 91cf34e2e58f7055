"""Staff pages of cases: the list and its export, the case page with every workflow action,
staff intake and proxy filing, the Excel import and the 24-hour duty console.

Reads go through ``fengqiao.cases.selectors`` (restricted to the user's data
scope), writes through ``fengqiao.cases.services``. A case outside the scope
and a missing one answer alike (404).
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.accounts.models import User
from fengqiao.audit.models import Category as AuditCategory
from fengqiao.audit.services import record
from fengqiao.core.excel import EXPORT_MAX_ROWS, excel_response
from fengqiao.core.paging import CappedPaginator
from fengqiao.core.personal import reveal_field
from fengqiao.core.workflow import Transition
from fengqiao.units.models import Unit

from . import selectors, services
from .forms import (
    DANGER_ACTIONS,
    PRIMARY_ACTIONS,
    REPLY_ACTIONS,
    ActionForm,
    CaseFilterForm,
    IntakeForm,
    apply_errors,
    display_extra,
    grid_staff,
)
from .labels import action_label
from .models import OPEN_STATES, Attachment, Case, CaseEvent, CaseState, Category, Complexity, DutyAlert

VIEW_PERM = "cases.view_case"
ADD_PERM = "cases.add_case"
REVEAL_PERM = "cases.reveal_case"
ACK_PERM = "cases.acknowledge_case"
DUTY_PERM = "cases.view_dutyalert"
PAGE_SIZE = 25
REVEALABLE = ("reporter_name", "reporter_phone")
THUMB_SIZE = (320, 320)
DUTY_ALERTS_SHOWN = 50
DUTY_CASES_SHOWN = 30


#: the "Cases" entries of the sidebar (core/_nav.html), translated in this app's catalogue
NAV_LABELS = (
    gettext_noop("Cases"),
    gettext_noop("Case list"),
    gettext_noop("My cases"),
    gettext_noop("New case"),
    gettext_noop("Import cases"),
    gettext_noop("Duty console"),
)


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


# --- deadlines as shown -----------------------------------------------------------------------


def due_soon_fraction() -> float:
    """The share of the allowed time after which an open case is marked "due soon" (amber): the
    last reminder fraction of the deadline sweeper (``case.reminder_fractions``), which is also
    when it raises the "deadline approaching" duty alert."""
    try:
        from .sweeper import reminder_fractions
    except ImportError:
        return 0.8
    fractions = reminder_fractions()
    return fractions[-1] if fractions else 0.8


@dataclass(frozen=True)
class Clock:
    """One deadline of a case as shown: due, done, and its state."""

    due: datetime.datetime | None
    done: datetime.datetime | None
    status: str  # none | running | due_soon | overdue | paused | on_time | late

    @property
    def css(self) -> str:
        return {
            "overdue": "bad",
            "late": "bad",
            "due_soon": "warn",
            "on_time": "ok",
            "paused": "paused",
        }.get(self.status, "")

    @property
    def label(self) -> str:
        labels = {
            "none": _("no deadline"),
            "running": _("on track"),
            "due_soon": _("due soon"),
            "overdue": _("overdue"),
            "paused": _("paused"),
            "on_time": _("on time"),
            "late": _("late"),
        }
        return labels[self.status]


def clock(
    due: datetime.datetime | None,
    done: datetime.datetime | None,
    start: datetime.datetime | None,
    *,
    now: datetime.datetime,
    paused: bool,
    soon: float,
    open_: bool = True,
) -> Clock:
    if due is None:
        return Clock(due, done, "none")
    if done is not None:
        return Clock(due, done, "on_time" if done <= due else "late")
    if not open_:
        return Clock(due, done, "none")
    if paused:
        return Clock(due, done, "paused")
    if now > due:
        return Clock(due, done, "overdue")
    if start is not None and due > start and (now - start) / (due - start) >= soon:
        return Clock(due, done, "due_soon")
    return Clock(due, done, "running")


def resolution_clock(case: Case, now: datetime.datetime, soon: float) -> Clock:
    start = getattr(case, "clock_started_at", None) or case.received_at
    return clock(
        case.resolution_due,
        case.resolved_at,
        start,
        now=now,
        paused=case.suspended_at is not None,
        soon=soon,
        open_=case.state in OPEN_STATES,
    )


def first_response_clock(case: Case, now: datetime.datetime, soon: float) -> Clock:
    return clock(
        case.first_response_due,
        case.first_responded_at,
        case.received_at,
        now=now,
        paused=False,
        soon=soon,
        open_=case.state in OPEN_STATES,
    )


STATE_BADGES: dict[str, str] = {
    CaseState.SUBMITTED: "state-new",
    CaseState.ESCALATION_PENDING: "state-wait",
    CaseState.DISTRICT_TRIAGE: "state-wait",
    CaseState.ASSIGNED: "state-work",
    CaseState.IN_PROGRESS: "state-work",
    CaseState.REVIEW: "state-review",
    CaseState.CLOSED: "state-done",
    CaseState.REJECTED: "state-off",
    CaseState.MERGED: "state-off",
}


def _row(case: Case, now: datetime.datetime, soon: float) -> dict[str, Any]:
    return {"case": case, "clock": resolution_clock(case, now, soon), "badge": STATE_BADGES.get(case.state, "")}


# --- list and export ----------------------------------------------------------------------------


def _filters(request: HttpRequest) -> tuple[CaseFilterForm, dict[str, Any]]:
    form = CaseFilterForm(request.GET or None, user=request.user)
    return form, form.filters()


@login_required
@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW_PERM)
    form, filters = _filters(request)
    qs = selectors.case_list(request.user, filters)
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    now, soon = timezone.now(), due_soon_fraction()
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "rows": [_row(case, now, soon) for case in page.object_list],
        "can_add": request.user.has_perm(ADD_PERM),
        "query": request.GET.urlencode(),
    }
    template = "cases/_case_results.html" if request.htmx else "cases/case_list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_GET
def case_export(request: HttpRequest) -> HttpResponseBase:
    _require(request, VIEW_PERM)
    _form, filters = _filters(request)
    qs = selectors.case_list(request.user, filters)
    total = qs[: EXPORT_MAX_ROWS + 1].count()
    if total > EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("More than %(max)d cases match: narrow the filters (state, place, category), then export again.")
            % {"max": EXPORT_MAX_ROWS},
        )
        return redirect(f"{reverse('cases:list')}?{request.GET.urlencode()}")
    record(
        "cases.export",
        actor=request.user,
        category=AuditCategory.ACCESS,
        detail={"filters": {k: str(v) for k, v in filters.items()}, "rows": total},
    )
    headers = [
        _("Tracking number"),
        _("Received at"),
        _("Kind"),
        _("Category"),
        _("Channel"),
        pgettext("case list column", "Summary"),
        _("Community"),
        _("Grid"),
        _("Address"),
        _("State"),
        _("Handling unit"),
        _("Handler"),
        _("Complexity"),
        _("First response due"),
        _("First responded"),
        _("Resolution due"),
        _("Resolved"),
        _("Closed"),
        _("Deadline"),
        _("Satisfaction (1-5)"),
        _("Reporter"),
        _("Reporter's phone"),
        _("Filed by"),
    ]
    now, soon = timezone.now(), due_soon_fraction()

    def rows() -> Iterator[list[Any]]:
        # masked reporter columns only: nothing is decrypted for an export
        for case in qs.select_related("filed_by").iterator(chunk_size=2000):
            yield [
                case.number,
                case.received_at,
                case.get_kind_display(),
                case.category.name,
                case.get_channel_display(),
                case.title or case.description[:100],
                case.community.name if case.community else "",
                case.grid.name if case.grid else "",
                case.address,
                case.get_state_display(),
                case.unit.name if case.unit else "",
                str(case.assignee) if case.assignee else "",
                case.get_complexity_display(),
                case.first_response_due,
                case.first_responded_at,
                case.resolution_due,
                case.resolved_at,
                case.closed_at,
                resolution_clock(case, now, soon).label,
                case.rating,
                _("anonymous") if case.anonymous else case.reporter_name_masked,
                "" if case.anonymous else case.reporter_phone_masked,
                str(case.filed_by) if case.filed_by else "",
            ]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return excel_response(f"cases-{stamp}", headers, rows(), title=_("Cases"))


# --- the case page ------------------------------------------------------------------------------


def _case(request: HttpRequest, number: str, action: str = "view") -> Case:
    _require(request, VIEW_PERM)
    return get_object_or_404(selectors.case_detail(request.user, action), number=number)


def _event_rows(case: Case, events: list[CaseEvent]) -> list[dict[str, Any]]:
    unit_ids = {e.data.get("unit") for e in events if isinstance(e.data, dict) and e.data.get("unit")}
    user_ids = {e.data.get("user") for e in events if isinstance(e.data, dict) and e.data.get("user")}
    units = {u.pk: u.name for u in Unit.objects.filter(pk__in=unit_ids)} if unit_ids else {}
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    states = dict(CaseState.choices)
    complexities = dict(Complexity.choices)
    rows = []
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        details: list[tuple[str, str]] = []
        if data.get("unit"):
            details.append((_("To unit"), units.get(data["unit"], "—")))
        if data.get("user"):
            details.append((_("To person"), users.get(data["user"], "—")))
        if data.get("days"):
            details.append((_("Days"), str(data["days"])))
        if data.get("complexity"):
            details.append((_("Complexity"), str(complexities.get(data["complexity"], data["complexity"]))))
        if data.get("due"):
            details.append((_("Deadline"), _local(data["due"])))
        if data.get("guidance"):
            details.append((_("Guidance for the resident"), str(data["guidance"])))
        if data.get("into"):
            details.append((_("Merged into"), str(data["into"])))
        if data.get("case") and event.action == "merged_in":
            details.append((_("Duplicate"), str(data["case"])))
        if data.get("rating"):
            details.append((_("Satisfaction (1-5)"), str(data["rating"])))
        if data.get("channel"):
            from .models import Channel

            details.append((_("Channel"), str(dict(Channel.choices).get(data["channel"], data["channel"]))))
        rows.append(
            {
                "event": event,
                "label": action_label(event.action),
                "from_state": states.get(event.from_state, event.from_state),
                "to_state": states.get(event.to_state, event.to_state),
                "moved": bool(event.from_state) and event.from_state != event.to_state,
                "details": details,
                "attachments": list(event.attachments.all()),
            }
        )
    return rows


def _local(value: Any) -> str:
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M")


def _suggestions(request: HttpRequest, case: Case) -> list[dict[str, Any]] | None:
    """Earlier open cases that may be the same matter (None: the suggester is not installed)."""
    try:
        from . import duplicates
    except ImportError:
        return None
    found = duplicates.suggest_duplicates(case, limit=5, user=request.user)
    visible = set(
        selectors.case_detail(request.user).filter(pk__in=[c.pk for c, _score in found]).values_list("pk", flat=True)
    )
    return [{"case": c, "score": score} for c, score in found if c.pk in visible]


def _action_forms(
    request: HttpRequest, case: Case, bound: ActionForm | None = None
) -> tuple[list[ActionForm], list[Transition]]:
    transitions = selectors.available_actions(request.user, case)
    forms = []
    for transition in transitions:
        if bound is not None and bound.action == transition.action:
            forms.append(bound)
        else:
            forms.append(ActionForm(transition=transition, case=case, user=request.user))
    if bound is not None and all(f is not bound for f in forms):
        # a stale page: the action is no longer possible, but what was typed is shown with the notice
        forms.insert(0, bound)
    return forms, transitions


def _detail_context(
    request: HttpRequest,
    case: Case,
    *,
    bound: ActionForm | None = None,
    revealed: dict[str, str] | None = None,
    reveal_errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    now, soon = timezone.now(), due_soon_fraction()
    events = list(selectors.timeline(case))
    forms, _transitions = _action_forms(request, case, bound)
    attachments = list(case.attachments.all())
    revealed = revealed or {}
    reveal_errors = reveal_errors or {}
    triage = case.state in (CaseState.SUBMITTED, CaseState.DISTRICT_TRIAGE)
    merge_possible = any(f.action == "merge" for f in forms)
    boundary = case.grid.boundary if case.grid is not None else None
    if boundary is None and case.community is not None:
        boundary = case.community.boundary
    return {
        "case": case,
        "badge": STATE_BADGES.get(case.state, ""),
        "first_clock": first_response_clock(case, now, soon),
        "resolution_clock": resolution_clock(case, now, soon),
        "extra_rows": display_extra(case.category, case.extra or {}),
        "events": _event_rows(case, events),
        "photos": [a for a in attachments if a.content_type.startswith("image/")],
        "other_files": [a for a in attachments if not a.content_type.startswith("image/")],
        "action_forms": forms,
        "open_action": bound.action if bound is not None else request.GET.get("action", ""),
        "primary_actions": PRIMARY_ACTIONS,
        "reply_actions": REPLY_ACTIONS,
        "danger_actions": DANGER_ACTIONS,
        "templates": [t for t in (case.category.response_templates or []) if isinstance(t, dict) and t.get("text")],
        "suggestions": _suggestions(request, case) if triage and merge_possible else None,
        "can_reveal": request.user.has_perm(REVEAL_PERM),
        "reporter_fields": [
            {
                "field": name,
                "label": pgettext("person", "Name") if name == "reporter_name" else _("Phone"),
                "masked": getattr(case, f"{name}_masked"),
                "value": revealed.get(name),
                "error": reveal_errors.get(name, ""),
            }
            for name in REVEALABLE
        ],
        "boundary": boundary,
        "has_map": (case.lng is not None and case.lat is not None) or bool(boundary),
    }


@login_required
@require_GET
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    return render(request, "cases/case_detail.html", _detail_context(request, case))


@login_required
@require_POST
def case_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """Apply one workflow action; on a problem, show the form again with what was typed."""
    case = _case(request, number)
    transitions = {t.action: t for t in selectors.available_actions(request.user, case)}
    transition = transitions.get(action)
    if transition is None:
        return _stale_or_404(request, case, action)
    form = ActionForm(request.POST, request.FILES, transition=transition, case=case, user=request.user)
    if form.is_valid():
        try:
            services.apply_action(case, action, actor=request.user, **form.service_kwargs())
        except services.ConcurrentUpdate:
            form.concurrent = True
        except ValidationError as exc:
            apply_errors(form, exc, {"target": "target_unit", "location": "note"})
        except PermissionDenied as exc:
            raise Http404 from exc
        else:
            messages.success(
                request, _("%(action)s: done for case %(number)s.") % {"action": action_label(action), "number": number}
            )
            url = reverse("cases:detail", args=[number])
            if request.htmx:  # type: ignore[attr-defined]
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
    return _form_response(request, case, form)


def _form_response(request: HttpRequest, case: Case, form: ActionForm) -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        context = {
            "case": case,
            "form": form,
            "templates": [t for t in (case.category.response_templates or []) if isinstance(t, dict) and t.get("text")],
            "primary_actions": PRIMARY_ACTIONS,
            "reply_actions": REPLY_ACTIONS,
            "danger_actions": DANGER_ACTIONS,
            "open_action": form.action,
        }
        return render(request, "cases/_action_form.html", context)
    return render(request, "cases/case_detail.html", _detail_context(request, case, bound=form))


def _stale_or_404(request: HttpRequest, case: Case, action: str) -> HttpResponse:
    """The action is not offered: if the page was stale (someone acted first), say so; else 404."""
    try:
        seen = int(request.POST.get(f"{action}-expected_version", ""))
    except ValueError:
        seen = None
    if seen is not None and seen != case.version:
        from .workflow import CASE_WORKFLOW

        known = {t.action: t for t in CASE_WORKFLOW.transitions if t.actor == "staff"}
        if action in known:
            transition = known[action]
            form = ActionForm(request.POST, request.FILES, transition=transition, case=case, user=request.user)
            form.is_valid()
            form.concurrent = True
            return _form_response(request, case, form)
    raise Http404


@login_required
@require_GET
def target_people(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """htmx: the people of the chosen unit (and the case's grid staff) for an assignment form."""
    case = _case(request, number)
    transition = next((t for t in selectors.available_actions(request.user, case) if t.action == action), None)
    if transition is None or "target" not in transition.requires:
        raise Http404
    form = ActionForm(transition=transition, case=case, user=request.user)
    unit_id = request.GET.get(f"{action}-target_unit", "")
    people = form.fields["target_user"].queryset  # type: ignore[attr-defined]
    on_grid = list(grid_staff(case))
    in_unit: list[User] = []
    if unit_id.isdigit():
        in_unit = [u for u in people.filter(unit_id=int(unit_id)).order_by("username") if u not in on_grid]
    return render(request, "cases/_people_options.html", {"on_grid": on_grid, "in_unit": in_unit})


@login_required
@require_POST
@never_cache
def reveal(request: HttpRequest, number: str, field: str) -> HttpResponse:
    """Show the reporter's name or phone in full, for this response only; logged as an access event."""
    if field not in REVEALABLE:
        raise Http404
    visible = selectors.case_detail(request.user).filter(number=number).first()
    reason = request.POST.get("reason", "").strip()
    if visible is not None and not reason and request.user.has_perm(REVEAL_PERM):
        error = _("Give the reason for viewing this data (it is written to the access log).")
        return _reveal_response(request, visible, field, error=error)
    try:
        value = reveal_field(
            actor=request.user,
            queryset=Case.objects.restrict(request.user, "view"),
            permission=REVEAL_PERM,
            obj=visible or Case(pk=0, number=number),
            field=field,
            reason=reason,
        )
    except PermissionDenied as exc:
        raise Http404 from exc
    assert visible is not None  # noqa: S101 - reveal_field refuses anything not visible
    return _reveal_response(request, visible, field, value=value)


def _reveal_response(
    request: HttpRequest, case: Case, field: str, *, value: str | None = None, error: str = ""
) -> HttpResponse:
    revealed = {field: value} if value is not None else {}
    errors = {field: error} if error else {}
    context = _detail_context(request, case, revealed=revealed, reveal_errors=errors)
    if request.htmx:  # type: ignore[attr-defined]
        item = next(f for f in context["reporter_fields"] if f["field"] == field)
        return render(request, "cases/_reveal_field.html", {**context, "item": item})
    return render(request, "cases/case_detail.html", context)


def _attachment(request: HttpRequest, number: str, pk: int) -> Attachment:
    case = _case(request, number)
    return get_object_or_404(Attachment.objects.filter(case=case), pk=pk)


@login_required
@require_GET
def attachment(request: HttpRequest, number: str, pk: int) -> FileResponse:
    """A case's file, only for staff who may see the case (never a public media URL)."""
    item = _attachment(request, number, pk)
    try:
        handle = item.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type=item.content_type or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def thumbnail(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    """A small JPEG of an image attachment, for the case page."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    item = _attachment(request, number, pk)
    if not item.content_type.startswith("image/"):
        raise Http404
    try:
        with item.file.open("rb") as handle, Image.open(handle) as original:
            picture = ImageOps.exif_transpose(original) or original
            picture.thumbnail(THUMB_SIZE)
            out = io.BytesIO()
            picture.convert("RGB").save(out, "JPEG", quality=80)
    except (FileNotFoundError, OSError, UnidentifiedImageError, ValueError) as exc:
        raise Http404 from exc
    response = HttpResponse(out.getvalue(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


# --- staff intake and proxy filing --------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def case_create(request: HttpRequest) -> HttpResponse:
    _require(request, ADD_PERM)
    initial: dict[str, Any] = {}
    if request.method == "GET":
        channel = request.GET.get("channel", "")
        if channel:
            initial["channel"] = channel
    form = IntakeForm(request.POST or None, request.FILES or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case = _file_case(request, form)
        except ValidationError as exc:
            apply_errors(form, exc, {"location": "lng", "files": "photos"})
        except PermissionDenied:
            form.add_error("lng", _("This place is outside your area: choose a place in your communities."))
        else:
            if not Case.objects.restrict(request.user, "view").filter(pk=case.pk).exists():
                messages.success(
                    request,
                    _(
                        "Case %(number)s filed. It lies outside the cases you may open (not in one of your grids), "
                        "so give the resident its number. Mark the place on the map to file a case in your grid."
                    )
                    % {"number": case.number},
                )
                return redirect(f"{reverse('cases:list')}?mine=filed")
            messages.success(request, _("Case %(number)s filed.") % {"number": case.number})
            return redirect("cases:detail", number=case.number)
    context = {"form": form, "categories": _category_info(), "community_shapes": _community_shapes(form)}
    return render(request, "cases/case_form.html", context)


MAP_COMMUNITIES = 200


def _community_shapes(form: IntakeForm) -> dict[str, Any]:
    """Centroid and boundary of each community offered, for the intake map (a few hundred at most)."""
    communities = form.fields["community"].queryset  # type: ignore[attr-defined]
    shapes: dict[str, Any] = {}
    for region in communities[:MAP_COMMUNITIES]:
        if region.centroid_lng is None and not region.boundary:
            continue
        shapes[str(region.pk)] = {
            "c": [region.centroid_lng, region.centroid_lat] if region.centroid_lng is not None else None,
            "b": region.boundary,
        }
    return shapes


def _file_case(request: HttpRequest, form: IntakeForm) -> Case:
    """File the case; refused (nothing kept) when the map point routes it outside the user's communities."""
    with transaction.atomic():
        case = services.submit_case(actor=request.user, **form.service_kwargs())
        allowed = form.fields["community"].queryset  # type: ignore[attr-defined]
        if case.community_id is not None and not allowed.filter(pk=case.community_id).exists():
            raise PermissionDenied
    return case


def _category_info() -> list[dict[str, Any]]:
    return [
        {"pk": c.pk, "kind": c.kind, "description": c.description}
        for c in Category.objects.filter(is_active=True).only("pk", "kind", "description")
    ]


@login_required
@require_GET
def intake_extra_fields(request: HttpRequest) -> HttpResponse:
    """htmx: the extra inputs of the chosen category."""
    _require(request, ADD_PERM)
    form = IntakeForm(user=request.user, initial={"category": request.GET.get("category")})
    return render(request, "cases/_extra_fields.html", {"form": form})


@login_required
@require_POST
def intake_duplicates(request: HttpRequest) -> HttpResponse:
    """htmx: earlier open cases that may be the same matter, while the form is being filled in."""
    _require(request, ADD_PERM)
    try:
        from . import duplicates
    except ImportError:
        return HttpResponse("")
    form = IntakeForm(request.POST, user=request.user)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    category, community = data.get("category"), data.get("community")
    description = (data.get("description") or "").strip()
    if category is None or len(description) < 4 or (community is None and data.get("lng") is None):
        return HttpResponse("")
    draft = Case(
        category=category,
        description=description,
        community=community,
        lng=data.get("lng"),
        lat=data.get("lat"),
        region_path=community.path if community is not None else "",
        received_at=timezone.now(),
        kind=category.kind,
    )
    found = duplicates.suggest_duplicates(draft, limit=5, user=request.user)
    visible = set(
        selectors.case_detail(request.user).filter(pk__in=[c.pk for c, _s in found]).values_list("pk", flat=True)
    )
    rows = [{"case": c, "score": s} for c, s in found if c.pk in visible]
    return render(request, "cases/_intake_duplicates.html", {"suggestions": rows})


# --- import -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def case_import(request: HttpRequest) -> HttpResponse:
    from .imports import ImportForm, import_cases

    _require(request, ADD_PERM)
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[Any] = []
    if request.method == "POST" and form.is_valid():
        result = import_cases(form.cleaned_data["file"], actor=request.user)
        if result.ok:
            messages.success(request, _("%(count)d cases imported.") % {"count": len(result.cases)})
            return redirect(f"{reverse('cases:list')}?channel=import")
        errors = result.errors
    return render(request, "cases/import.html", {"form": form, "errors": errors})


@login_required
@require_GET
def import_template(request: HttpRequest) -> HttpResponseBase:
    from .imports import template_response

    _require(request, ADD_PERM)
    return template_response()


# --- the 24-hour duty console ------------------------------------------------------------------


def _duty_context(request: HttpRequest) -> dict[str, Any]:
    alerts_qs = selectors.duty_alerts(request.user)
    alerts = list(alerts_qs[: DUTY_ALERTS_SHOWN + 1])
    total = len(alerts) if len(alerts) <= DUTY_ALERTS_SHOWN else alerts_qs.count()
    now, soon = timezone.now(), due_soon_fraction()
    # cases already resolved and waiting for review are not racing their handling deadline
    near = [
        _row(case, now, soon)
        for case in selectors.near_deadline(request.user).filter(resolved_at__isnull=True)[:DUTY_CASES_SHOWN]
    ]
    return {
        "alerts": alerts[:DUTY_ALERTS_SHOWN],
        "alert_total": total,
        "near": near,
        "can_ack": request.user.has_perm(ACK_PERM),
        "now": now,
        "warnings": _calendar_warnings(),
    }


def _calendar_warnings() -> list[Any]:
    try:
        from fengqiao.workdays.selectors import calendar_warnings
    except ImportError:
        return []
    return list(calendar_warnings())


@login_required
@require_GET
def duty(request: HttpRequest) -> HttpResponse:
    _require(request, DUTY_PERM)
    return render(request, "cases/duty.html", _duty_context(request))


@login_required
@require_GET
@never_cache
def duty_feed(request: HttpRequest) -> HttpResponse:
    """htmx (polled every few seconds): the alerts and the cases near their deadline."""
    _require(request, DUTY_PERM)
    return render(request, "cases/_duty_feed.html", _duty_context(request))


@login_required
@require_POST
def duty_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, DUTY_PERM)
    # an alert someone else acknowledged a moment ago is still found (and left as it is)
    alert: DutyAlert = get_object_or_404(DutyAlert.objects.restrict(request.user, "view"), pk=pk)
    try:
        services.acknowledge_alert(alert, actor=request.user)
    except PermissionDenied as exc:
        raise Http404 from exc
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "cases/_duty_feed.html", _duty_context(request))
    messages.success(request, _("Alert acknowledged."))
    return redirect("cases:duty")
