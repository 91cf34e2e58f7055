"""The cases part of the JSON API (``/api/v1/cases``): list, detail, workflow actions,
attachments, staff case creation and the figures.

The handlers parse, call the cases selectors and services, and render; the rules
are the UI's: the same selectors (``case_list``, ``case_detail``,
``available_actions``), the same forms for the inputs of an action or a new case
(``ActionForm``, ``IntakeForm``: target units in scope, the merge target's
number, the complexity deadline, photos checked by content), the same services
(``apply_action``, ``submit_case``). Out of scope = 404, a missing permission = 403,
a stale ``version`` = 409, bad input = 422 keyed by field, nothing written.
"""

from __future__ import annotations

import datetime
import functools
from typing import Annotated, Any, Literal, get_args

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile as NinjaUploadedFile
from pydantic import BaseModel, Field

from fengqiao.api import ERRORS, ErrorOut
from fengqiao.core.paging import COUNT_CAP, CappedPaginator

from . import figures as case_figures
from . import selectors, services
from .forms import ActionForm, IntakeForm
from .labels import action_label
from .models import Attachment, Case, CaseEvent, CaseState
from .workflow import CASE_WORKFLOW

VIEW_PERM = "cases.view_case"
ADD_PERM = "cases.add_case"
MAX_PAGE_SIZE = 100

router = Router(tags=["cases"])
figures_router = Router(tags=["figures"])

StateFilter = Literal[
    "open",
    "submitted",
    "escalation_pending",
    "district_triage",
    "assigned",
    "in_progress",
    "review",
    "closed",
    "rejected",
    "merged",
]
KindName = Literal["report", "petition", "service"]
ChannelName = Literal["qr", "walk_in", "phone", "proxy", "grid", "import", "open311", "api", "assessment"]
ComplexityName = Literal["simple", "general", "complex"]
#: the staff actions of the transition table (a test checks this list against ``CASE_WORKFLOW``)
ActionName = Literal[
    "handle_here",
    "assign",
    "escalate",
    "reject",
    "merge",
    "approve_escalation",
    "deny_escalation",
    "dispatch",
    "return",
    "accept",
    "reassign",
    "report_findings",
    "feedback",
    "request_extension",
    "approve_extension",
    "deny_extension",
    "suspend",
    "resume",
    "pass_review",
    "rework",
    "supervise",
    "comment",
    "set_complexity",
]
STAFF_ACTIONS = sorted({t.action for t in CASE_WORKFLOW.transitions if t.actor == "staff"})


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(_("You may not do this."))


# --- schemas ---------------------------------------------------------------------------------------


class Out(BaseModel):
    """Response schemas are plain pydantic models: the handlers build dicts, so ninja's
    ORM-attribute resolver (``ninja.Schema``) is not needed, and 50 rows validate ~3x faster."""


class Ref(Out):
    id: int
    name: str


class RegionRef(Ref):
    path: str


class CategoryRef(Ref):
    code: str


ClockState = Literal["none", "running", "due_soon", "overdue", "paused", "on_time", "late"]
CLOCK_STATES: tuple[str, ...] = get_args(ClockState)


class ClockOut(Out):
    due: datetime.datetime | None
    done: datetime.datetime | None
    status: ClockState
    label: str


class CaseOut(Out):
    id: int
    number: str
    kind: KindName
    category: CategoryRef
    channel: str
    title: str
    description: str
    state: str
    state_label: str
    address: str
    lng: float | None
    lat: float | None
    community: RegionRef | None
    grid: RegionRef | None
    unit: Ref | None
    assignee: Ref | None
    complexity: str
    received_at: datetime.datetime
    first_response: ClockOut
    resolution: ClockOut
    suspended: bool
    supervised: bool
    closed_at: datetime.datetime | None
    version: int
    updated_at: datetime.datetime


class CaseListOut(Out):
    items: list[CaseOut]
    page: int
    page_size: int
    count: int = Field(description=f"matching cases, counted up to {COUNT_CAP + 1}")
    count_capped: bool = Field(description=f"true when more than {COUNT_CAP} cases match: narrow the filters")
    has_next: bool


class AttachmentOut(Out):
    id: int
    name: str
    content_type: str
    size: int
    event_id: int | None
    uploaded_by_resident: bool
    created_at: datetime.datetime
    url: str


class EventOut(Out):
    id: int
    at: datetime.datetime
    action: str
    label: str
    from_state: str
    to_state: str
    by: str
    actor: Ref | None
    public: bool
    note: str
    data: dict[str, Any]
    attachments: list[int]


class PublicEventOut(Out):
    at: datetime.datetime
    action: str
    label: str
    to_state: str
    by: str
    note: str


class ActionOut(Out):
    action: str
    label: str
    requires: list[str]
    target_state: str
    accepts_files: bool


class CaseDetailOut(CaseOut):
    extra: dict[str, Any]
    anonymous: bool
    reporter_name: str = Field(description="masked")
    reporter_phone: str = Field(description="masked")
    filed_by: Ref | None
    triage_unit: Ref | None
    merged_into: str | None
    rating: int | None
    rating_comment: str
    rejection_reason: str
    rejection_guidance: str
    extension_days: int
    extension_requested_days: int | None
    suspended_days: int
    timeline: list[EventOut]
    public_timeline: list[PublicEventOut]
    attachments: list[AttachmentOut]
    actions: list[ActionOut]


class CaseFilters(Schema):
    state: StateFilter | None = None
    category: int | None = Field(None, ge=1)
    kind: KindName | None = None
    channel: ChannelName | None = None
    region: Annotated[str, Field(pattern=r"^[0-9]{2,15}$")] | None = Field(
        None, description="region code (street, community or grid path): this place and below"
    )
    unit: int | None = Field(None, ge=1, description="handling unit id")
    received_from: datetime.date | None = Field(None, description="received on or after (local date)")
    received_to: datetime.date | None = Field(None, description="received on or before (local date)")
    overdue: bool = False
    mine: Literal["assigned", "unit", "filed"] | None = None
    q: Annotated[str, Field(max_length=20)] | None = Field(None, description="tracking number")
    order: Literal["received", "due"] = "received"
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(25, ge=1, le=MAX_PAGE_SIZE)


class ActionIn(Schema):
    version: int = Field(ge=1, le=2_147_483_647, description="the case's version the caller saw (409 if stale)")
    note: str = Field("", max_length=4000)
    reason: str = Field("", max_length=2000)
    guidance: str = Field("", max_length=2000)
    target_unit: int | None = Field(None, ge=1, le=2_147_483_647)
    target_user: int | None = Field(None, ge=1, le=2_147_483_647)
    into: str | None = Field(None, max_length=20, description="tracking number of the case to merge into")
    complexity: ComplexityName | None = None
    due: datetime.date | None = Field(None, description="deadline of a complex case (set_complexity)")
    days: int | None = Field(None, ge=1, le=365)
    public: bool = False


class CaseIn(Schema):
    channel: Literal["walk_in", "phone", "proxy", "grid"]
    category: int = Field(ge=1, le=2_147_483_647)
    community: int = Field(ge=1, le=2_147_483_647)
    description: str = Field(max_length=4000)
    title: str = Field("", max_length=120)
    address: str = Field("", max_length=200)
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    reporter_name: str = Field("", max_length=50)
    reporter_phone: str = Field("", max_length=40)
    anonymous: bool = False
    extra: dict[str, str | float | list[str]] = Field(default_factory=dict, description="the category's extra fields")
    idempotency_key: str = Field(
        "", max_length=64, description="a retry with the same key returns the same case (no duplicate)"
    )


class FiguresIn(Schema):
    start: datetime.date | None = None
    end: datetime.date | None = None
    period: Literal["day", "week", "month"] | None = None
    region: Annotated[str, Field(pattern=r"^[0-9]{2,15}$")] | None = None
    category: int | None = Field(None, ge=1)
    kind: KindName | None = None
    group: list[Literal["unit", "street", "community", "category", "period"]] = Field(default_factory=list)


class FigureRowOut(Out):
    key: str | None
    label: str
    received: int
    accepted: int
    completed: int
    completion_rate: float | None
    on_time_rate: float | None
    open_overdue: int
    satisfaction_rate: float | None
    dispute_resolution_rate: float | None
    first_response_rate: float | None
    avg_hours: float | None
    avg_workdays: float | None


class FiguresOut(Out):
    start: datetime.date
    end: datetime.date
    period: str
    total: FigureRowOut
    groups: dict[str, list[FigureRowOut]]


# --- rendering -------------------------------------------------------------------------------------


def _ref(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": str(obj)}


def _region(obj: Any) -> dict[str, Any] | None:
    return None if obj is None else {"id": obj.pk, "name": obj.name, "path": obj.path}


@functools.lru_cache(maxsize=8)
def _clock_labels(language: str | None) -> dict[str, str]:
    from .views import Clock

    return {status: str(Clock(None, None, status).label) for status in CLOCK_STATES}


@functools.lru_cache(maxsize=8)
def _state_labels(language: str | None) -> dict[str, str]:
    return {value: str(label) for value, label in CaseState.choices}


def _clock(c: Any) -> dict[str, Any]:
    # the labels once per language, not seven gettext calls per clock
    return {"due": c.due, "done": c.done, "status": c.status, "label": _clock_labels(get_language())[c.status]}


def _summary(case: Case, now: datetime.datetime, soon: float) -> dict[str, Any]:
    from .views import first_response_clock, resolution_clock

    return {
        "id": case.pk,
        "number": case.number,
        "kind": case.kind,
        "category": {"id": case.category.pk, "name": case.category.name, "code": case.category.code},
        "channel": case.channel,
        "title": case.title,
        "description": case.description,
        "state": case.state,
        "state_label": _state_labels(get_language()).get(case.state, case.state),
        "address": case.address,
        "lng": case.lng,
        "lat": case.lat,
        "community": _region(case.community),
        "grid": _region(case.grid),
        "unit": _ref(case.unit),
        "assignee": _ref(case.assignee),
        "complexity": case.complexity,
        "received_at": case.received_at,
        "first_response": _clock(first_response_clock(case, now, soon)),
        "resolution": _clock(resolution_clock(case, now, soon)),
        "suspended": case.suspended_at is not None,
        "supervised": case.supervised,
        "closed_at": case.closed_at,
        "version": case.version,
        "updated_at": case.updated_at,
    }


def _attachment(request: HttpRequest, a: Attachment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "name": a.original_name or a.file.name.rsplit("/", 1)[-1],
        "content_type": a.content_type,
        "size": a.size,
        "event_id": a.event_id,
        "uploaded_by_resident": a.uploaded_by_resident,
        "created_at": a.created_at,
        "url": f"/api/v1/cases/{a.case_id}/attachments/{a.pk}",
    }


def _actions(user: Any, case: Case) -> list[dict[str, Any]]:
    from .forms import PHOTO_ACTIONS

    return [
        {
            "action": t.action,
            "label": str(action_label(t.action)),
            "requires": list(t.requires),
            "target_state": t.resolve_target(case.state),
            "accepts_files": t.action in PHOTO_ACTIONS,
        }
        for t in selectors.available_actions(user, case)
    ]


def _event(e: CaseEvent) -> dict[str, Any]:
    return {
        "id": e.pk,
        "at": e.at,
        "action": e.action,
        "label": str(action_label(e.action)),
        "from_state": e.from_state,
        "to_state": e.to_state,
        "by": e.actor_label,
        "actor": _ref(e.actor) if e.actor_id else None,
        "public": e.public,
        "note": e.note,
        "data": e.data if isinstance(e.data, dict) else {},
        "attachments": [a.pk for a in e.attachments.all()],
    }


def _detail(request: HttpRequest, case: Case) -> dict[str, Any]:
    from .views import due_soon_fraction

    now, soon = timezone.now(), due_soon_fraction()
    data = _summary(case, now, soon)
    data.update(
        {
            "extra": case.extra if isinstance(case.extra, dict) else {},
            "anonymous": case.anonymous,
            "reporter_name": case.reporter_name_masked,
            "reporter_phone": case.reporter_phone_masked,
            "filed_by": _ref(case.filed_by),
            "triage_unit": _ref(case.triage_unit),
            "merged_into": case.merged_into.number if case.merged_into is not None else None,
            "rating": case.rating,
            "rating_comment": case.rating_comment,
            "rejection_reason": case.rejection_reason,
            "rejection_guidance": case.rejection_guidance,
            "extension_days": case.extension_days,
            "extension_requested_days": case.extension_requested_days,
            "suspended_days": case.suspended_days,
            "timeline": [_event(e) for e in selectors.timeline(case)],
            "public_timeline": [
                {
                    "at": e.at,
                    "action": e.action,
                    "label": str(action_label(e.action)),
                    "to_state": e.to_state,
                    "by": e.actor_label,
                    "note": e.note,
                }
                for e in selectors.public_timeline(case)
            ],
            "attachments": [_attachment(request, a) for a in case.attachments.all()],
            "actions": _actions(request.user, case),
        }
    )
    return data


def _case(request: HttpRequest, case_id: int) -> Case:
    _require(request, VIEW_PERM)
    return get_object_or_404(selectors.case_detail(request.user), pk=case_id)


# --- list and detail -------------------------------------------------------------------------------


@router.get("", response={200: CaseListOut, **ERRORS}, summary="List cases (filters, paging)")
def list_cases(request: HttpRequest, filters: Query[CaseFilters]) -> Any:
    """The staff case list in the caller's scope, newest first (or by deadline with ``order=due``).
    Pages: ``page`` / ``page_size``; ``count`` stops at 10,001 (``count_capped``)."""
    from .views import due_soon_fraction

    _require(request, VIEW_PERM)
    f = filters.dict(exclude_none=True)
    page, size = f.pop("page"), f.pop("page_size")
    if f.get("order") == "received":
        f.pop("order")
    if not f.get("overdue"):
        f.pop("overdue", None)
    qs = selectors.case_list(request.user, f)
    start = (page - 1) * size
    rows = list(qs[start : start + size + 1])
    paginator = CappedPaginator(qs, size)
    now, soon = timezone.now(), due_soon_fraction()
    return {
        "items": [_summary(c, now, soon) for c in rows[:size]],
        "page": page,
        "page_size": size,
        "count": paginator.count,
        "count_capped": paginator.capped,
        "has_next": len(rows) > size,
    }


@router.get("/{case_id}", response={200: CaseDetailOut, **ERRORS}, summary="One case with its timeline")
def get_case(request: HttpRequest, case_id: int) -> Any:
    return _detail(request, _case(request, case_id))


@router.get("/{case_id}/actions", response={200: list[ActionOut], **ERRORS}, summary="Actions the caller may take now")
def list_actions(request: HttpRequest, case_id: int) -> Any:
    return _actions(request.user, _case(request, case_id))


# --- workflow actions ------------------------------------------------------------------------------


def _form_data(action: str, payload: ActionIn) -> MultiValueDict[str, Any]:
    values: dict[str, Any] = {
        "expected_version": payload.version,
        "note": payload.note,
        "reason": payload.reason,
        "guidance": payload.guidance,
        "target_unit": payload.target_unit,
        "target_user": payload.target_user,
        "into": payload.into,
        "complexity": payload.complexity,
        "due": payload.due.isoformat() if payload.due else None,
        "days": payload.days,
    }
    data: MultiValueDict[str, Any] = MultiValueDict()
    for key, value in values.items():
        if value not in (None, ""):
            data[f"{action}-{key}"] = str(value)
    if payload.public:
        data[f"{action}-public"] = "on"
    return data


_FIELD_NAMES = {"expected_version": "version"}


def _not_offered(request: HttpRequest, case: Case, action: str, payload: ActionIn) -> None:
    """Why an action the caller may not take now is refused: stale, impossible, or not theirs."""
    if payload.version != case.version:
        raise services.ConcurrentUpdate(_("Someone else changed this case a moment ago. Reload it and try again."))
    transition = next((t for t in CASE_WORKFLOW.actions_from(case.state) if t.action == action), None)
    if transition is not None and (
        not request.user.has_perm(transition.permission)
        or (transition.permission == "cases.handle_case" and not services.may_handle(case, request.user))
    ):
        raise PermissionDenied(_("You may not do this."))
    if case.suspended_at is not None and transition is not None:
        raise ValidationError(_("The case is suspended: resume it first."))
    raise ValidationError(
        _("This action is not possible while the case is “%(state)s”.") % {"state": case.get_state_display()}
    )


def _act(request: HttpRequest, case_id: int, action: ActionName, payload: ActionIn, files: list[UploadedFile]) -> Any:
    if action not in STAFF_ACTIONS:
        raise Http404
    case = _case(request, case_id)
    transition = next((t for t in selectors.available_actions(request.user, case) if t.action == action), None)
    if transition is None:
        _not_offered(request, case, action, payload)
        raise Http404  # pragma: no cover - _not_offered always raises
    data = _form_data(action, payload)
    file_data: MultiValueDict[str, Any] = MultiValueDict()
    if files:
        file_data.setlist(f"{action}-files", list(files))
    form = ActionForm(data, file_data, transition=transition, case=case, user=request.user)
    if files and "files" not in form.fields:
        raise ValidationError({"files": [_("This action does not take photos.")]})
    if not form.is_valid():
        raise ValidationError(
            {_FIELD_NAMES.get(name, name): [str(m) for m in msgs] for name, msgs in form.errors.items()}
        )
    services.apply_action(case, action, actor=request.user, **form.service_kwargs())
    return _detail(request, _case(request, case_id))


@router.post(
    "/{case_id}/actions/{action}",
    response={200: CaseDetailOut, 409: ErrorOut, **ERRORS},
    summary="Take a workflow action (JSON)",
)
def take_action(request: HttpRequest, case_id: int, action: ActionName, payload: ActionIn) -> Any:
    """One step of the workflow (the transition table in ``fengqiao/cases/workflow.py``); ``version``
    is the case's version the caller saw: if someone acted since, 409 and nothing is applied.
    The inputs each action needs are listed by ``GET /cases/{id}/actions`` (``requires``)."""
    return _act(request, case_id, action, payload, [])


@router.post(
    "/{case_id}/actions/{action}/with-files",
    response={200: CaseDetailOut, 409: ErrorOut, **ERRORS},
    summary="Take a workflow action with photos (multipart)",
)
def take_action_with_files(
    request: HttpRequest,
    case_id: int,
    action: ActionName,
    payload: Form[ActionIn],
    files: File[list[NinjaUploadedFile]] = None,  # type: ignore[assignment]
) -> Any:
    """The same as the JSON action, as ``multipart/form-data`` with photos in ``files``
    (for ``feedback``, ``report_findings`` and ``comment``; JPEG, PNG, WebP or GIF, checked by
    content, at most the configured size and number)."""
    return _act(request, case_id, action, payload, list(files or []))


# --- attachments -----------------------------------------------------------------------------------


@router.get("/{case_id}/attachments", response={200: list[AttachmentOut], **ERRORS}, summary="A case's files")
def list_attachments(request: HttpRequest, case_id: int) -> Any:
    case = _case(request, case_id)
    return [_attachment(request, a) for a in case.attachments.all()]


@router.get(
    "/{case_id}/attachments/{attachment_id}",
    response={200: None, **ERRORS},
    summary="Download a file (only for those who may see the case)",
    openapi_extra={
        "responses": {
            200: {  # an int, like ninja's own keys (a "200" string would be a second, duplicate key)
                "description": "the file",
                "content": {
                    media: {"schema": {"type": "string", "format": "binary"}}
                    for media in (*services.ALLOWED_IMAGE_FORMATS.values(), "application/octet-stream")
                },
            }
        }
    },
)
def download_attachment(request: HttpRequest, case_id: int, attachment_id: int) -> Any:
    case = _case(request, case_id)
    item = get_object_or_404(Attachment.objects.filter(case=case), pk=attachment_id)
    try:
        handle = item.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type=item.content_type or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- staff case creation ---------------------------------------------------------------------------


@router.post("", response={201: CaseDetailOut, 200: CaseDetailOut, **ERRORS}, summary="File a case (staff intake)")
def create_case(request: HttpRequest, payload: CaseIn) -> Any:
    """Staff intake: walk-in, phone call, proxy filing (代办) or a grid worker's own report, with the
    category's extra fields in ``extra``. The case is routed like one filed on the web page. A retry
    with the same ``idempotency_key`` returns the case already filed (200)."""
    from .views import _file_case

    _require(request, ADD_PERM)
    data: MultiValueDict[str, Any] = MultiValueDict()
    for key in ("channel", "category", "community", "description", "title", "address", "lng", "lat"):
        value = getattr(payload, key)
        if value not in (None, ""):
            data[key] = str(value)
    for key in ("reporter_name", "reporter_phone", "idempotency_key"):
        if getattr(payload, key):
            data[key] = getattr(payload, key)
    if payload.anonymous:
        data["anonymous"] = "on"
    for code, value in payload.extra.items():
        if isinstance(value, list):
            data.setlist(f"extra_{code}", [str(v) for v in value])
        else:
            data[f"extra_{code}"] = str(value)
    existed = bool(payload.idempotency_key) and Case.objects.filter(idempotency_key=payload.idempotency_key).exists()
    form = IntakeForm(data, MultiValueDict(), user=request.user)
    if not form.is_valid():
        raise ValidationError({name: [str(m) for m in msgs] for name, msgs in form.errors.items()})
    try:
        case = _file_case(request, form)
    except PermissionDenied as exc:
        raise ValidationError(
            {"lng": [_("This place is outside your area: choose a place in your communities.")]}
        ) from exc
    visible = selectors.case_detail(request.user).filter(pk=case.pk).first()
    if visible is None:
        raise PermissionDenied(_("This case is not in your scope."))
    return Status(200 if existed else 201, _detail(request, visible))


# --- figures ---------------------------------------------------------------------------------------


def _row(row: Any) -> dict[str, Any]:
    return {
        "key": None if row.key is None else str(row.key),
        "label": str(row.label),
        "received": row.received,
        "accepted": row.accepted,
        "completed": row.completed,
        "completion_rate": row.completion_rate,
        "on_time_rate": row.on_time_rate,
        "open_overdue": row.open_overdue,
        "satisfaction_rate": row.satisfaction_rate,
        "dispute_resolution_rate": row.dispute_resolution_rate,
        "first_response_rate": row.first_response_rate,
        "avg_hours": row.avg_hours,
        "avg_workdays": row.avg_workdays,
    }


@figures_router.get("", response={200: FiguresOut, **ERRORS}, summary="Figures of the closed loop")
def figures(request: HttpRequest, params: Query[FiguresIn]) -> Any:
    """Accepted, completed, completion rate, on-time rate (open overdue cases count as late),
    satisfaction, dispute resolution, average handling time — over the cases received from ``start``
    to ``end`` (default: this year) in the caller's scope, in total and per ``group``."""
    from .figures_views import MAX_DAYS

    _require(request, VIEW_PERM)
    default = case_figures.default_params()
    start, end = params.start or default.start, params.end or default.end
    errors: dict[str, list[str]] = {}
    if end < start:
        errors["end"] = [_("The end date is before the start date; swap them.")]
    elif (end - start).days > MAX_DAYS:
        errors["start"] = [_("Choose at most three years at a time.")]
    if errors:
        raise ValidationError(errors)
    fp = case_figures.FigureParams(
        start=start,
        end=end,
        period=params.period or case_figures.auto_period(start, end),
        region=params.region or "",
        category_id=params.category,
        kind=params.kind or "",
    )
    result = case_figures.figures(request.user, fp, groups=params.group)
    return {
        "start": fp.start,
        "end": fp.end,
        "period": result.params.period,
        "total": _row(result.total),
        "groups": {name: [_row(r) for r in rows] for name, rows in result.groups.items()},
    }
