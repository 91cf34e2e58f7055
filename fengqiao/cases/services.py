"""Every write to a case: intake, the workflow actions, residents' actions, alerts.

One entry point per kind of write, each atomic and audited:

- ``submit_case`` — any channel (QR form, staff intake, proxy filing, import, APIs);
  idempotent on ``idempotency_key``.
- ``apply_action`` — a staff action of the transition table
  (``fengqiao.cases.workflow``): locks the case row, checks the version the
  user saw (optimistic concurrency: one of two simultaneous actors wins, the
  other gets ``ConcurrentUpdate`` and nothing is applied), the permission and
  the data scope, the inputs the transition requires; applies the deadline
  rule; writes a ``CaseEvent``, alerts, notifications and the audit row.
- ``resident_action`` — rate / reopen / add information through the private link.
- ``acknowledge_alert`` — the duty console's logged acknowledgement.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import record
from fengqiao.core.validators import validate_phone
from fengqiao.core.workflow import Transition, TransitionError
from fengqiao.regions.models import Level, Region
from fengqiao.system.selectors import get_parameter
from fengqiao.units.models import GridAssignment, GridRole, Unit, UnitKind

from . import deadlines
from .models import (
    FINAL_STATES,
    OPEN_STATES,
    Attachment,
    Case,
    CaseEvent,
    CaseKind,
    CaseState,
    Category,
    Channel,
    Complexity,
    DutyAlert,
)
from .workflow import CASE_WORKFLOW, RESIDENT, REVIEW, TRIAGE

logger = logging.getLogger(__name__)

MAX_DESCRIPTION = 4000
ALLOWED_IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


class ConcurrentUpdate(Exception):
    """The case changed since the user loaded it; nothing was applied."""


# --- helpers ------------------------------------------------------------------------------------


_clock: contextvars.ContextVar[datetime.datetime | None] = contextvars.ContextVar("fengqiao_case_clock", default=None)


def _now() -> datetime.datetime:
    return _clock.get() or timezone.now()


@contextlib.contextmanager
def as_of(moment: datetime.datetime) -> Iterator[None]:
    """Apply writes as if at ``moment`` (back-filling history: demo data, imports of old cases)."""
    token = _clock.set(moment)
    try:
        yield
    finally:
        _clock.reset(token)


def _snapshot(case: Case) -> dict[str, Any]:
    return {
        "state": case.state,
        "unit": case.unit_id,
        "assignee": case.assignee_id,
        "complexity": case.complexity,
        "first_response_due": case.first_response_due,
        "resolution_due": case.resolution_due,
        "suspended_at": case.suspended_at,
        "version": case.version,
    }


def _max_photo_bytes() -> int:
    value: Any = get_parameter("intake.max_photo_mb", 10)
    return int(value if isinstance(value, int) and value > 0 else 10) * 1024 * 1024


def validate_upload(f: UploadedFile) -> str:
    """Refuse oversize or non-image uploads (checked by content, not by name); returns the MIME type."""
    limit = _max_photo_bytes()
    if f.size is None or f.size > limit:
        raise ValidationError(
            _("“%(name)s” is too large (%(size).1f MB); the limit is %(limit)d MB.")
            % {"name": f.name, "size": (f.size or 0) / 1048576, "limit": limit // 1048576},
            code="too_large",
        )
    from PIL import Image, UnidentifiedImageError

    try:
        f.seek(0)
        with Image.open(f) as image:
            fmt = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ValidationError(
            _("“%(name)s” is not a photo we can read (JPEG, PNG, WebP or GIF).") % {"name": f.name},
            code="bad_type",
        ) from exc
    finally:
        f.seek(0)
    if fmt not in ALLOWED_IMAGE_FORMATS:
        raise ValidationError(
            _("“%(name)s” is not a photo we can read (JPEG, PNG, WebP or GIF).") % {"name": f.name}, code="bad_type"
        )
    return ALLOWED_IMAGE_FORMATS[fmt]


def _attach(case: Case, event: CaseEvent | None, files: Iterable[UploadedFile], *, actor: Any, resident: bool) -> int:
    count = 0
    for f in files:
        content_type = validate_upload(f)
        Attachment.objects.create(
            case=case,
            event=event,
            file=f,
            content_type=content_type,
            size=f.size or 0,
            original_name=(f.name or "")[-200:],
            uploaded_by_resident=resident,
            uploaded_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        )
        count += 1
    return count


def _validate_files(files: Sequence[UploadedFile], *, field: str = "files") -> None:
    max_count: Any = get_parameter("intake.max_photos", 3)
    limit = int(max_count) if isinstance(max_count, int) and max_count > 0 else 3
    errors: list[str] = []
    if len(files) > limit:
        errors.append(_("At most %(n)d photos.") % {"n": limit})
    for f in files:
        try:
            validate_upload(f)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError({field: errors})


def _centre_for(region: Region | None) -> Unit | None:
    """The governance centre of a region or its nearest ancestor that has one."""
    node = region
    while node is not None:
        unit = Unit.objects.filter(region=node, kind=UnitKind.CENTRE, is_active=True).order_by("id").first()
        if unit is not None:
            return unit
        node = node.parent
    return None


def _ancestor(region: Region | None, level: int) -> Region | None:
    node = region
    while node is not None and node.level > level:
        node = node.parent
    return node if node is not None and node.level == level else None


def _event(
    case: Case,
    action: str,
    *,
    actor: Any,
    from_state: str,
    note: str = "",
    public: bool = False,
    data: dict[str, Any] | None = None,
    actor_label: str = "",
) -> CaseEvent:
    if not actor_label:
        if actor is not None and getattr(actor, "is_authenticated", False):
            unit = getattr(actor, "unit", None)
            actor_label = str(unit) if unit is not None else _("Staff")
        else:
            actor_label = _("Resident")
    return CaseEvent.objects.create(
        case=case,
        at=_now(),
        action=action,
        from_state=from_state,
        to_state=case.state,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label[:100],
        public=public,
        note=note,
        data=data or {},
    )


def _alert(case: Case, kind: str, key: str, unit: Unit | None = None) -> None:
    DutyAlert.objects.bulk_create(
        [
            DutyAlert(
                case=case,
                kind=kind,
                region_path=case.region_path,
                unit=unit or case.unit or case.triage_unit,
                dedupe_key=key[:120],
                created_at=_now(),
            )
        ],
        ignore_conflicts=True,
    )


def _notify(users: Iterable[Any], kind: str, subject: str, body: str, case: Case, key: str) -> None:
    recipients = [u for u in users if u is not None]
    if not recipients:
        return
    from fengqiao.notifications.services import notify

    notify(recipients, kind, subject, body, url=f"/cases/{case.number}/", dedupe_key=key)


def _unit_members(unit: Unit | None, perm: str | None = None) -> list[Any]:
    """Active members of ``unit`` (holding ``perm`` through one of their roles, if given): one query."""
    if unit is None:
        return []
    from fengqiao.accounts.models import User

    qs = User.objects.filter(unit=unit, is_active=True)
    if perm is not None:
        app_label, codename = perm.split(".", 1)
        qs = qs.filter(
            roles__permissions__content_type__app_label=app_label, roles__permissions__codename=codename
        ).distinct()
    return list(qs.order_by("pk"))


# --- intake ---------------------------------------------------------------------------------
#
# ``submit_case`` = ``clean_case_input`` (everything checkable without routing: shared with the
# resident inbox, ``fengqiao.intake.services.receive_report``, which runs it in the request)
# + ``place_case`` (point-in-grid, the triage centre; ``place_cases`` does a whole batch with one
# vectorised grid look-up and one centre query) + ``create_case`` (the writes: the case, its
# number, the event, photos, the duty alert, the audit row, the notification).


@dataclass(frozen=True)
class CaseInput:
    """A report's values after ``clean_case_input``: everything that can be checked without routing it."""

    category: Category
    description: str
    channel: str
    community: Region | None
    lng: float | None
    lat: float | None
    address: str
    reporter_name: str
    reporter_phone: str
    anonymous: bool
    extra: dict[str, Any]


@dataclass(frozen=True)
class Placement:
    """Where a report goes: its grid and community (by the point, else the given community) and triage centre."""

    grid: Region | None
    community: Region | None
    region_path: str
    triage_unit: Unit


def _no_place() -> ValidationError:
    return ValidationError(
        {"community": _("Choose the community, or mark the place on the map inside the district's grids.")}
    )


def _no_centre() -> ValidationError:
    return ValidationError({"community": _("No governance centre is set up for this place; tell the administrator.")})


def _check_category_place(category: Category, region_path: str) -> None:
    if category.district_id is not None and not region_path.startswith(
        category.district.path if category.district else ""
    ):
        raise ValidationError({"category": _("This category is not used in this district.")})


def _validate_extra(category: Category, extra: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for spec in category.extra_fields or []:
        code = str(spec.get("code", ""))
        label = str(spec.get("label") or code)
        value = extra.get(code)
        datatype = spec.get("datatype", "string")
        empty = value is None or value == "" or value == []
        if empty:
            if spec.get("required"):
                errors.setdefault(f"extra_{code}", []).append(_("“%(label)s” is required.") % {"label": label})
            continue
        keys = {str(v.get("key")) for v in spec.get("values", [])}
        if datatype == "number":
            try:
                value = float(str(value))
            except (TypeError, ValueError):
                errors.setdefault(f"extra_{code}", []).append(_("“%(label)s” must be a number.") % {"label": label})
                continue
        elif datatype == "singlevaluelist":
            if str(value) not in keys:
                errors.setdefault(f"extra_{code}", []).append(_("Choose a value for “%(label)s”.") % {"label": label})
                continue
            value = str(value)
        elif datatype == "multivaluelist":
            values = [str(v) for v in (value if isinstance(value, list) else [value])]
            if not set(values) <= keys:
                errors.setdefault(f"extra_{code}", []).append(_("Choose values for “%(label)s”.") % {"label": label})
                continue
            value = values
        else:
            value = str(value)[:2000]
        clean[code] = value
    if errors:
        raise ValidationError(errors)
    return clean


def clean_case_input(
    *,
    category: Category,
    description: str,
    channel: str,
    community: Region | None = None,
    lng: float | None = None,
    lat: float | None = None,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    extra: dict[str, Any] | None = None,
    files: Sequence[UploadedFile] = (),
) -> CaseInput:
    """Check a report without routing it (no grid look-up, no centre); raise one ``ValidationError``
    keyed by field with every problem. Photos are checked by content (``validate_upload``)."""
    errors: dict[str, list[str]] = {}
    description = (description or "").strip()
    if not description:
        errors["description"] = [_("Describe the problem.")]
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = [
            _("The description is too long (%(n)d characters, at most %(max)d).")
            % {"n": len(description), "max": MAX_DESCRIPTION}
        ]
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if not category.is_active:
        errors["category"] = [_("This category is no longer in use; choose another.")]
    elif community is not None and community.level == Level.COMMUNITY:
        try:
            _check_category_place(category, community.path)
        except ValidationError as exc:
            errors.setdefault("category", []).extend(exc.messages)
    if (lng is None) != (lat is None):
        errors["location"] = [_("Give both longitude and latitude, or neither.")]
    elif lng is not None and lat is not None and not (-180 <= lng <= 180 and -90 <= lat <= 90):
        errors["location"] = [_("The location is not a valid longitude/latitude.")]
    phone = ""
    if reporter_phone and not anonymous:
        try:
            phone = validate_phone(reporter_phone)
        except ValidationError as exc:
            errors["reporter_phone"] = exc.messages
    if community is not None and community.level != Level.COMMUNITY:
        errors["community"] = [_("Choose a community or village.")]
    try:
        clean_extra = _validate_extra(category, extra or {})
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
        clean_extra = {}
    try:
        _validate_files(list(files))
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return CaseInput(
        category=category,
        description=description,
        channel=channel,
        community=community,
        lng=lng,
        lat=lat,
        address=(address or "")[:200],
        reporter_name="" if anonymous else (reporter_name or "").strip()[:50],
        reporter_phone="" if anonymous else phone,
        anonymous=anonymous,
        extra=clean_extra,
    )


def _triage_for(community: Region | None, centre_of: Any) -> Unit | None:
    """The street's centre (or the nearest above it), else the community's own; ``centre_of(region)``."""
    return centre_of(_ancestor(community, Level.STREET)) or centre_of(community)


def place_case(data: CaseInput) -> Placement:
    """Route one report: the grid containing its point (else its community) and the triage centre."""
    from fengqiao.regions.locate import locate

    grid, located = locate(data.lng, data.lat) if data.lng is not None and data.lat is not None else (None, None)
    if grid is not None:
        grid_, community, path = grid, located, grid.path
    elif data.community is not None:
        grid_, community, path = None, data.community, data.community.path
    else:
        raise _no_place()
    triage_unit = _triage_for(community, _centre_for)
    if triage_unit is None:
        raise _no_centre()
    _check_category_place(data.category, path)
    return Placement(grid_, community, path, triage_unit)


def place_cases(items: Sequence[CaseInput]) -> list[Placement | ValidationError]:
    """``place_case`` for a batch, set-based: one vectorised point-in-grid query
    (``GridIndex.locate_many``), one query for the grids and their ancestors, one for the centres.
    Each item gets its ``Placement`` or the ``ValidationError`` ``place_case`` would raise."""
    from fengqiao.regions.locate import grid_index

    points = [i for i, d in enumerate(items) if d.lng is not None and d.lat is not None]
    grid_of: dict[int, int] = {}
    if points:
        index = grid_index()
        found = index.locate_many([items[i].lng or 0.0 for i in points], [items[i].lat or 0.0 for i in points])
        for i, hit in zip(points, found.tolist(), strict=True):
            if hit >= 0:
                grid_of[i] = int(index.grid_ids[hit])
    chain = "parent__parent__parent__parent__parent"  # grid → community → street → county → prefecture → province
    grids = Region.objects.select_related(chain).in_bulk(set(grid_of.values()))
    communities: dict[int, Region] = {}
    for i, d in enumerate(items):
        if i not in grid_of and d.community is not None:
            communities[d.community.pk] = d.community
    missing = [pk for pk, c in communities.items() if not _has_chain(c)]
    if missing:
        communities.update(Region.objects.select_related("parent__parent__parent__parent").in_bulk(missing))
    regions: set[int] = set()
    for region in [*grids.values(), *communities.values()]:
        node: Region | None = region
        while node is not None:
            regions.add(node.pk)
            node = node.parent
    centres: dict[int, Unit] = {}
    for unit in Unit.objects.filter(region_id__in=regions, kind=UnitKind.CENTRE, is_active=True).order_by("-id"):
        centres[unit.region_id] = unit  # the lowest id wins, as in ``_centre_for``

    def centre_of(region: Region | None) -> Unit | None:
        node = region
        while node is not None:
            if node.pk in centres:
                return centres[node.pk]
            node = node.parent
        return None

    result: list[Placement | ValidationError] = []
    for i, d in enumerate(items):
        grid = grids.get(grid_of[i]) if i in grid_of else None
        if grid is not None:
            grid_, community, path = grid, grid.parent, grid.path
        elif d.community is not None:
            grid_, community = None, communities.get(d.community.pk, d.community)
            path = community.path
        else:
            result.append(_no_place())
            continue
        triage_unit = _triage_for(community, centre_of)
        if triage_unit is None:
            result.append(_no_centre())
            continue
        try:
            _check_category_place(d.category, path)
        except ValidationError as exc:
            result.append(exc)
            continue
        result.append(Placement(grid_, community, path, triage_unit))
    return result


def _has_chain(region: Region) -> bool:
    """Whether ``region``'s ancestors are already loaded (no query per step when walking up)."""
    node: Region | None = region
    while node is not None:
        if node.parent_id is None:
            return True
        if not Region.parent.is_cached(node):
            return False
        node = node.parent
    return True


def create_case(
    data: CaseInput,
    placement: Placement,
    *,
    actor: Any = None,
    title: str = "",
    idempotency_key: str | None = None,
    public_token: str | None = None,
    files: Sequence[UploadedFile] = (),
    kind: str | None = None,
    received_at: datetime.datetime | None = None,
    alert: bool = True,
    notify: bool = True,
    calendar: Any = None,
) -> Case:
    """The writes of intake, for a checked (``clean_case_input``) and routed (``place_case``) report:
    the case and its number, the public ``submit`` event, the photos, the duty alert, the audit row
    and (after commit) the new-case notification. Atomic; a repeated ``idempotency_key`` or
    ``public_token`` raises ``IntegrityError`` (``submit_case`` turns that into the existing case).

    For batches (the intake inbox): ``calendar`` is one working-day calendar snapshot for all of it,
    and ``notify=False`` leaves the new-case notification to the caller (one task per batch, which
    sends the same ``notify_new`` per case)."""
    now = _now()
    received = received_at or now
    if timezone.is_naive(received):
        raise ValidationError({"received_at": _("The time of receipt needs a time zone.")})
    category = data.category
    with transaction.atomic():
        case = Case(
            number=f"tmp-{idempotency_key or public_token or now.timestamp()}"[:20],
            idempotency_key=idempotency_key or None,
            kind=kind or category.kind,
            category=category,
            channel=data.channel,
            title=title[:120],
            description=data.description,
            extra=data.extra,
            address=data.address,
            lng=data.lng,
            lat=data.lat,
            community=placement.community,
            grid=placement.grid,
            region_path=placement.region_path,
            anonymous=data.anonymous,
            reporter_name=data.reporter_name,
            reporter_phone=data.reporter_phone,
            filed_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
            state=CaseState.SUBMITTED,
            triage_unit=placement.triage_unit,
            unit=placement.triage_unit,
            complexity=category.default_complexity,
            received_at=received,
            clock_started_at=received,
        )
        if public_token:
            case.public_token = public_token
        deadlines.recompute(case, calendar=calendar)
        case.save()
        case.number = f"{timezone.localtime(received):%Y%m%d}{case.pk:06d}"
        case.save(update_fields=["number"])
        event = _event(
            case,
            "submit",
            actor=actor,
            from_state="",
            public=True,
            note="",
            data={"channel": data.channel},
            actor_label=_("Resident") if actor is None else "",
        )
        _attach(case, event, files, actor=actor, resident=actor is None)
        if alert:  # bulk imports of past cases don't flood the duty console
            _alert(case, DutyAlert.Kind.NEW_CASE, f"new:{case.pk}", unit=placement.triage_unit)
        record(
            "cases.submit",
            actor=actor,
            obj=case,
            after={"category": category.code, "channel": data.channel, "state": case.state},
            actor_name="" if actor is not None else _("Resident"),
        )
        if alert and notify:
            transaction.on_commit(lambda: _enqueue_new_case_notice(case.pk))
    return case


def submit_case(
    *,
    category: Category,
    description: str,
    channel: str,
    actor: Any = None,
    community: Region | None = None,
    lng: float | None = None,
    lat: float | None = None,
    address: str = "",
    title: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    extra: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    files: Sequence[UploadedFile] = (),
    kind: str | None = None,
    received_at: datetime.datetime | None = None,
    alert: bool = True,
    public_token: str | None = None,
) -> Case:
    """Create a case from any channel; see the module docstring. Returns the existing
    case when ``idempotency_key`` was used before (double tap, flaky network)."""
    if idempotency_key:
        existing = Case.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    data = clean_case_input(
        category=category,
        description=description,
        channel=channel,
        community=community,
        lng=lng,
        lat=lat,
        address=address,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        anonymous=anonymous,
        extra=extra,
        files=files,
    )
    placement = place_case(data)
    try:
        return create_case(
            data,
            placement,
            actor=actor,
            title=title,
            idempotency_key=idempotency_key,
            public_token=public_token,
            files=files,
            kind=kind,
            received_at=received_at,
            alert=alert,
        )
    except IntegrityError:
        if idempotency_key:
            existing = Case.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        raise


def _enqueue_new_case_notice(case_id: int) -> None:
    # off the request path: the duty alert is already on the console; mail/SMS can follow
    from .tasks import notify_new_case

    try:
        notify_new_case.enqueue(case_id)
    except Exception:  # a notification never breaks intake
        logger.exception("could not enqueue the notification for case %s", case_id)


def notify_new(case_id: int) -> None:
    try:
        case = Case.objects.select_related("triage_unit").get(pk=case_id)
        _notify(
            _unit_members(case.triage_unit, TRIAGE),
            "case.new",
            _("New report %(number)s") % {"number": case.number},
            case.description[:200],
            case,
            f"case:{case.pk}:new",
        )
    except Exception:  # a notification never breaks intake
        logger.exception("notification for new case %s failed", case_id)


# --- staff actions ------------------------------------------------------------------------------


def _check_scope(case: Case, actor: Any) -> None:
    if not Case.objects.restrict(actor, "view").filter(pk=case.pk).exists():
        raise PermissionDenied(_("This case is not in your scope."))


def may_handle(case: Case, actor: Any) -> bool:
    """Handling actions belong to the assignee (or the handling unit when nobody is assigned);
    triage and review staff in scope may act for them."""
    if actor.has_perm(TRIAGE) or actor.has_perm(REVIEW):
        return True
    if case.assignee_id is not None:
        return bool(case.assignee_id == actor.pk)
    return case.unit_id is None or case.unit_id == getattr(actor, "unit_id", None)


def _check_handler(case: Case, actor: Any, transition: Transition) -> None:
    if transition.permission == "cases.handle_case" and not may_handle(case, actor):
        raise PermissionDenied(_("This case is with someone else."))


def _require(transition: Transition, values: dict[str, Any]) -> None:
    labels = {
        "reason": _("Give a reason."),
        "guidance": _("Tell the resident where to go instead."),
        "note": _("Write what was done or found."),
        "target": _("Choose who takes it over."),
        "into": _("Choose the case to merge into."),
        "complexity": _("Choose the complexity."),
        "days": _("Give the number of days."),
        "rating": _("Choose a rating from 1 to 5."),
    }
    errors = {name: [labels[name]] for name in transition.requires if not values.get(name)}
    if errors:
        raise ValidationError(errors)


def _target(
    case: Case, actor: Any, target_unit: Unit | None, target_user: Any, *, departments_only: bool = False
) -> tuple[Unit, Any]:
    if target_user is not None:
        if not target_user.is_active:
            raise ValidationError({"target": _("That person's account is not active.")})
        unit = target_unit or target_user.unit
        if unit is None:
            raise ValidationError({"target": _("That person has no unit.")})
        if target_unit is not None and target_user.unit_id != target_unit.pk:
            on_grid = (
                case.grid_id is not None
                and GridAssignment.objects.filter(
                    grid_id=case.grid_id, user=target_user, valid_to__isnull=True
                ).exists()
            )
            if not on_grid:
                raise ValidationError({"target": _("That person is not in the chosen unit or the case's grid.")})
    elif target_unit is not None:
        unit = target_unit
    else:
        raise ValidationError({"target": _("Choose who takes it over.")})
    if not unit.is_active:
        raise ValidationError({"target": _("That unit is not active.")})
    if not Unit.objects.restrict(actor, "view").filter(pk=unit.pk).exists():
        raise ValidationError({"target": _("That unit is outside your scope.")})
    if departments_only and unit.kind == UnitKind.CENTRE and unit.region.level >= Level.STREET:
        raise ValidationError({"target": _("The district centre dispatches to a district department or team.")})
    return unit, target_user


@transaction.atomic
def apply_action(
    case: Case | int,
    action: str,
    *,
    actor: Any,
    expected_version: int | None = None,
    note: str = "",
    reason: str = "",
    guidance: str = "",
    target_unit: Unit | None = None,
    target_user: Any = None,
    into: Case | None = None,
    complexity: str = "",
    due: datetime.datetime | None = None,
    days: int | None = None,
    files: Sequence[UploadedFile] = (),
    public: bool = False,
) -> Case:
    pk = case.pk if isinstance(case, Case) else int(case)
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("Log in first."))
    locked = (
        Case.objects.select_for_update(of=("self",))
        .select_related("category", "triage_unit", "unit")
        .filter(pk=pk)
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("This case is not in your scope."))
    _check_scope(locked, actor)
    if expected_version is not None and locked.version != expected_version:
        raise ConcurrentUpdate(_("Someone else changed this case a moment ago. Reload it and try again."))
    try:
        transition = CASE_WORKFLOW.get(locked.state, action)
    except TransitionError as exc:
        raise ValidationError(
            _("This action is not possible while the case is “%(state)s”.") % {"state": locked.get_state_display()}
        ) from exc
    if transition.actor != "staff" or transition.permission == RESIDENT:
        raise PermissionDenied(_("Only the resident can do this."))
    if not actor.has_perm(transition.permission):
        raise PermissionDenied(_("You may not do this."))
    _check_handler(locked, actor, transition)
    if locked.suspended_at is not None and action not in ("resume", "comment", "supervise"):
        raise ValidationError(_("The case is suspended: resume it first."))
    note, reason, guidance = note.strip(), reason.strip(), guidance.strip()
    values: dict[str, Any] = {
        "note": note,
        "reason": reason,
        "guidance": guidance,
        "target": target_unit or target_user,
        "into": into,
        "complexity": complexity,
        "days": days,
    }
    _require(transition, values)
    if files:
        _validate_files(list(files))
    before = _snapshot(locked)
    from_state = locked.state
    now = _now()
    data: dict[str, Any] = {}
    event_public = public
    c = locked

    if transition.deadline in ("triage", "first_response", "stop") and c.first_responded_at is None:
        c.first_responded_at = now

    if action in ("handle_here",):
        c.unit = getattr(actor, "unit", None) or c.unit
        c.assignee = None
        event_public = True
        if c.kind == CaseKind.PETITION:
            c.clock_started_at = now
    elif action in ("assign", "dispatch", "reassign"):
        unit, user = _target(c, actor, target_unit, target_user, departments_only=action == "dispatch")
        c.unit, c.assignee = unit, user
        data = {"unit": unit.pk, "user": getattr(user, "pk", None)}
        event_public = True
        if c.kind == CaseKind.PETITION and action != "reassign" and from_state == CaseState.SUBMITTED:
            c.clock_started_at = now
    elif action == "escalate":
        data = {"reason": reason}
    elif action == "approve_escalation":
        county = _ancestor(c.community or (c.grid.parent if c.grid else None), Level.COUNTY)
        district_centre = _centre_for(county)
        if district_centre is None:
            raise ValidationError(_("No district centre is set up; tell the administrator."))
        c.unit, c.assignee = district_centre, None
        event_public = True
    elif action == "deny_escalation":
        c.unit, c.assignee = c.triage_unit, None
    elif action == "return":
        back_to = c.triage_unit
        c.unit, c.assignee = back_to, None
        data = {"reason": reason}
    elif action == "reject":
        c.rejection_reason, c.rejection_guidance = reason, guidance
        c.closed_at = c.resolved_at = now
        c.resolution_outcome = "rejected"
        event_public = True
    elif action == "merge":
        if into is None or into.pk == c.pk or into.state not in OPEN_STATES:
            raise ValidationError({"into": _("Merge into another case that is still open.")})
        if not Case.objects.restrict(actor, "view").filter(pk=into.pk).exists():
            raise ValidationError({"into": _("That case is outside your scope.")})
        c.merged_into = into
        c.closed_at = c.resolved_at = now
        c.resolution_outcome = "merged"
        data = {"into": into.number}
        event_public = True
    elif action == "accept":
        if c.assignee_id is None:
            c.assignee = actor
    elif action == "feedback":
        c.resolved_at = now
        event_public = True
    elif action == "rework":
        c.resolved_at = None
    elif action == "pass_review":
        c.closed_at = now
        c.resolved_at = c.resolved_at or now
        c.resolution_outcome = "resolved"
        event_public = True
    elif action == "suspend":
        c.suspended_at = now
        event_public = True
    elif action == "resume":
        if c.suspended_at is None:
            raise ValidationError(_("The case is not suspended."))
        c.suspended_days += deadlines.suspended_working_days(c.suspended_at, now)
        data = {"suspended_since": c.suspended_at.isoformat()}
        c.suspended_at = None
        deadlines.recompute(c)
        event_public = True
    elif action == "request_extension":
        if days is None or days < 1 or days > 60:
            raise ValidationError({"days": _("Ask for between 1 and 60 days.")})
        if c.kind == CaseKind.PETITION and (c.extension_days or days > deadlines.PETITION_MAX_EXTENSION_DAYS):
            raise ValidationError(
                {
                    "days": _("A petition may be extended once, by at most %(n)d days.")
                    % {"n": deadlines.PETITION_MAX_EXTENSION_DAYS}
                }
            )
        if c.extension_requested_days:
            raise ValidationError(_("An extension request is already waiting for approval."))
        c.extension_requested_days = days
        data = {"days": days, "reason": reason}
    elif action == "approve_extension":
        if not c.extension_requested_days:
            raise ValidationError(_("There is no extension request to approve."))
        data = {"days": c.extension_requested_days}
        c.extension_days += c.extension_requested_days
        c.extension_requested_days = None
        deadlines.recompute(c)
        event_public = True
    elif action == "deny_extension":
        if not c.extension_requested_days:
            raise ValidationError(_("There is no extension request to deny."))
        c.extension_requested_days = None
    elif action == "supervise":
        c.supervised = True
    elif action == "set_complexity":
        if complexity not in Complexity.values:
            raise ValidationError({"complexity": _("Choose the complexity.")})
        if complexity == Complexity.COMPLEX:
            if due is None:
                raise ValidationError({"due": _("A complex case needs a deadline set at triage.")})
            if due <= now:
                raise ValidationError({"due": _("The deadline must be in the future.")})
            c.due_override = due
        else:
            c.due_override = None
        c.complexity = complexity
        deadlines.recompute(c)
        data = {"complexity": complexity, "due": due.isoformat() if due else None}

    c.state = transition.resolve_target(from_state)
    c.version += 1
    c.save()
    text = note or reason
    if action == "reject":
        text = reason
        data["guidance"] = guidance
    event = _event(c, action, actor=actor, from_state=from_state, note=text, public=event_public, data=data)
    _attach(c, event, files, actor=actor, resident=False)
    if action == "merge" and into is not None:
        _event(into, "merged_in", actor=actor, from_state=into.state, note=c.number, data={"case": c.number})
    _after_action(c, action, actor)
    record(f"cases.{action}", actor=actor, obj=c, before=before, after=_snapshot(c), detail=data or None)
    return c


def _after_action(case: Case, action: str, actor: Any) -> None:
    if action == "escalate":
        leaders = _unit_members(case.triage_unit, "cases.approve_escalation_case")
        transaction.on_commit(
            lambda: _safe(
                _notify,
                leaders,
                "case.escalation",
                _("Escalation of %(number)s needs your approval") % {"number": case.number},
                case.description[:200],
                case,
                f"case:{case.pk}:escalate:{case.version}",
            )
        )
    elif action == "approve_escalation":
        _alert(case, DutyAlert.Kind.ESCALATED, f"escalated:{case.pk}:{case.version}", unit=case.unit)
    elif action in ("assign", "dispatch", "reassign"):
        users = [case.assignee] if case.assignee else _unit_members(case.unit, "cases.handle_case")
        transaction.on_commit(
            lambda: _safe(
                _notify,
                users,
                "case.assigned",
                _("Case %(number)s was assigned to you") % {"number": case.number},
                case.description[:200],
                case,
                f"case:{case.pk}:assigned:{case.version}",
            )
        )
    elif action == "supervise":
        users = [case.assignee] if case.assignee else _unit_members(case.unit)
        transaction.on_commit(
            lambda: _safe(
                _notify,
                users,
                "case.supervised",
                _("Case %(number)s is under supervision (督办)") % {"number": case.number},
                case.description[:200],
                case,
                f"case:{case.pk}:supervise:{case.version}",
            )
        )


def _safe(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:
        logger.exception("case notification failed")


# --- residents ---------------------------------------------------------------------------------


@transaction.atomic
def resident_action(
    token: str,
    action: str,
    *,
    note: str = "",
    reason: str = "",
    rating: int | None = None,
    files: Sequence[UploadedFile] = (),
    expected_version: int | None = None,
) -> Case:
    case = Case.objects.select_for_update().filter(public_token=token).first() if token else None
    if case is None:
        raise PermissionDenied(_("Unknown tracking link."))
    if expected_version is not None and case.version != expected_version:
        raise ConcurrentUpdate(_("The case changed a moment ago. Reload the page and try again."))
    try:
        transition = CASE_WORKFLOW.get(case.state, action)
    except TransitionError as exc:
        raise ValidationError(_("This is not possible at this stage of the case.")) from exc
    if transition.actor != "resident":
        raise PermissionDenied(_("Only staff can do this."))
    note, reason = note.strip(), reason.strip()
    _require(transition, {"note": note, "reason": reason, "rating": rating})
    if files:
        _validate_files(list(files))
    from_state = case.state
    now = _now()
    data: dict[str, Any] = {}
    if action == "rate":
        if rating is None or not 1 <= int(rating) <= 5:
            raise ValidationError({"rating": _("Choose a rating from 1 to 5.")})
        if case.rating is not None:
            raise ValidationError({"rating": _("This case has already been rated.")})
        case.rating, case.rating_comment, case.rated_at = int(rating), note[:2000], now
        data = {"rating": int(rating)}
    elif action == "reopen":
        if case.closed_at is None:
            raise ValidationError(_("Only a closed case can be reopened."))
        window: Any = get_parameter("case.reopen_days", 14)
        days = int(window) if isinstance(window, int) and window > 0 else 14
        if now - case.closed_at > datetime.timedelta(days=days):
            raise ValidationError(
                _("A case can be reopened within %(n)d days of closing; please submit a new report.") % {"n": days}
            )
        if case.rating is not None and case.rating > 2:
            raise ValidationError(_("You rated this case as satisfactory; submit a new report for a new problem."))
        case.reopen_count += 1
        case.closed_at = case.resolved_at = None
        case.resolution_outcome = ""
        case.clock_started_at = now
        case.unit, case.assignee = case.triage_unit, None
        deadlines.recompute(case)
        data = {"reason": reason}
    case.state = transition.resolve_target(from_state)
    case.version += 1
    case.save()
    event = _event(case, action, actor=None, from_state=from_state, note=note or reason, public=True, data=data)
    _attach(case, event, files, actor=None, resident=True)
    if action == "reopen":
        _alert(case, DutyAlert.Kind.REOPENED, f"reopened:{case.pk}:{case.reopen_count}", unit=case.triage_unit)
    elif action == "add_info" and case.state in OPEN_STATES:
        users = [case.assignee] if case.assignee else _unit_members(case.unit)
        transaction.on_commit(
            lambda: _safe(
                _notify,
                users,
                "case.info",
                _("The resident added information to %(number)s") % {"number": case.number},
                note[:200],
                case,
                f"case:{case.pk}:info:{case.version}",
            )
        )
    record(f"cases.resident.{action}", obj=case, actor_name=_("Resident"), detail=data or None)
    return case


# --- duty console and maintenance ------------------------------------------------------------


@transaction.atomic
def acknowledge_alert(alert: DutyAlert, *, actor: Any) -> DutyAlert:
    if not actor.has_perm("cases.acknowledge_case"):
        raise PermissionDenied(_("You may not acknowledge duty alerts."))
    locked: DutyAlert | None = DutyAlert.objects.restrict(actor, "view").select_for_update().filter(pk=alert.pk).first()
    if locked is None:
        raise PermissionDenied(_("This alert is not in your scope."))
    if locked.acknowledged_at is None:
        locked.acknowledged_at = _now()
        locked.acknowledged_by = actor
        locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
        record(
            "cases.alert.acknowledge",
            actor=actor,
            obj=locked.case,
            detail={"alert": locked.pk, "kind": locked.kind},
        )
    return locked


def recompute_deadlines(cases: QuerySet[Case], batch_size: int = 500) -> int:
    """Recompute the deadlines of open cases (after a calendar or category change)."""
    changed = 0
    qs = cases.filter(state__in=OPEN_STATES).order_by("pk")
    last = 0
    while True:
        with transaction.atomic():
            batch = list(qs.filter(pk__gt=last).select_for_update()[:batch_size])
            if not batch:
                break
            updated = []
            now = timezone.now()
            for case in batch:
                old = (case.first_response_due, case.resolution_due)
                deadlines.recompute(case)
                if (case.first_response_due, case.resolution_due) != old:
                    case.updated_at = now  # the figures rollup refreshes what changed since its last run
                    updated.append(case)
            if updated:
                Case.objects.bulk_update(updated, ["first_response_due", "resolution_due", "updated_at"])
                changed += len(updated)
            last = batch[-1].pk
    return changed


def grid_workers(case: Case) -> list[Any]:
    """The grid workers currently responsible for the case's grid (the default assignee choices)."""
    if case.grid_id is None:
        return []
    today = timezone.localdate()
    return [
        a.user
        for a in GridAssignment.objects.filter(
            grid_id=case.grid_id, role__in=[GridRole.GRID_WORKER, GridRole.GRID_LEADER], valid_from__lte=today
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .select_related("user", "user__unit")
        .order_by("role", "user__username")
        if a.user.is_active
    ]


__all__ = [
    "FINAL_STATES",
    "ConcurrentUpdate",
    "acknowledge_alert",
    "apply_action",
    "grid_workers",
    "recompute_deadlines",
    "resident_action",
    "submit_case",
    "validate_upload",
]
