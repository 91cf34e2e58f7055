"""Every write of the grid app: visits, assessments, the tier a household is in,
the case a household turning red opens, and new versions of the assessment model.

Each function validates everything first (``ValidationError`` keyed by field,
in the user's language), then writes in one transaction with its audit row.
Per household, assessments are serialised by a row lock on the household, so
two red assessments at the same moment still open one case.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import record
from fengqiao.cases.models import OPEN_STATES, Case, Category, Channel
from fengqiao.cases.services import submit_case, validate_upload
from fengqiao.regions.models import Level
from fengqiao.registry.models import Household, Resident

from . import scoring
from .models import Assessment, AssessmentModel, HouseholdTier, Tier, Visit, VisitPhoto

MAX_NOTES = 4000
MAX_PHOTOS = 6
#: a visit may be entered a little after the fact, not in the future (clock skew allowed)
FUTURE_SLACK = datetime.timedelta(minutes=10)
MAX_BACKDATE = datetime.timedelta(days=30)
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

VISIT_PERMISSION = "grid.add_visit"
ASSESS_PERMISSION = "grid.add_assessment"
MODEL_PERMISSION = "grid.add_assessmentmodel"


# --- the assessment model -------------------------------------------------------------------


def ensure_default_model() -> AssessmentModel:
    """The current model version; version 1 (the default factors) when there is none yet."""
    current = AssessmentModel.objects.filter(is_current=True).first()
    if current is not None:
        return current
    with transaction.atomic():
        current = AssessmentModel.objects.select_for_update().filter(is_current=True).first()
        if current is not None:
            return current
        latest = AssessmentModel.objects.order_by("-version").values_list("version", flat=True).first() or 0
        return AssessmentModel.objects.create(
            version=latest + 1,
            factors=scoring.DEFAULT_FACTORS,
            thresholds=scoring.DEFAULT_THRESHOLDS,
            follow_up_days=scoring.DEFAULT_FOLLOW_UP_DAYS,
            case_category_code="family",
            note="默认模型",
            is_current=True,
            created_at=timezone.now(),
        )


def current_model() -> AssessmentModel:
    return ensure_default_model()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def validate_model(
    factors: Any, thresholds: Any, follow_up_days: Any, case_category_code: str
) -> tuple[list[dict[str, Any]], dict[str, float], dict[str, int]]:
    """Check a model definition; returns it normalised or raises ``ValidationError`` by field."""
    errors: dict[str, list[str]] = {}
    clean_factors: list[dict[str, Any]] = []
    if not isinstance(factors, list) or not factors:
        errors["factors"] = [_("Give at least one factor.")]
        factors = []
    seen: set[str] = set()
    for i, factor in enumerate(factors, start=1):
        problems: list[str] = []
        if not isinstance(factor, Mapping):
            errors.setdefault("factors", []).append(_("Factor %(n)d is not valid.") % {"n": i})
            continue
        code = str(factor.get("code") or "").strip()
        label = str(factor.get("label") or "").strip()
        if not CODE_RE.match(code):
            problems.append(_("its code must be lower-case letters, digits and “_”, starting with a letter"))
        elif code in seen:
            problems.append(_("its code “%(code)s” is used twice") % {"code": code})
        seen.add(code)
        if not label:
            problems.append(_("it needs a name"))
        weight = _number(factor.get("weight", 1))
        if weight is None or weight < 0 or weight > 100:
            problems.append(_("its weight must be a number from 0 to 100"))
        levels = factor.get("levels")
        clean_levels: list[dict[str, Any]] = []
        if not isinstance(levels, list) or len(levels) < 2:
            problems.append(_("it needs at least two levels"))
            levels = []
        keys: set[str] = set()
        for level in levels:
            key = str((level or {}).get("key") or "").strip() if isinstance(level, Mapping) else ""
            points = _number(level.get("score")) if isinstance(level, Mapping) else None
            if not CODE_RE.match(key) or key in keys:
                problems.append(_("each level needs its own code (lower-case letters, digits and “_”)"))
                break
            keys.add(key)
            if points is None or points < 0 or points > 1000:
                problems.append(_("each level's points must be a number from 0 to 1000"))
                break
            level_label = str(level.get("label") or "").strip() or key
            clean_levels.append(
                {"key": key, "label": level_label, "label_en": str(level.get("label_en") or ""), "score": points}
            )
        if problems:
            errors.setdefault("factors", []).append(
                _("Factor %(n)d (%(label)s): %(problems)s.")
                % {"n": i, "label": label or code or "?", "problems": "; ".join(problems)}
            )
            continue
        clean_factors.append(
            {
                "code": code,
                "label": label,
                "label_en": str(factor.get("label_en") or ""),
                "weight": weight,
                "required": bool(factor.get("required")),
                "levels": clean_levels,
            }
        )
    clean_thresholds: dict[str, float] = {}
    if not isinstance(thresholds, Mapping):
        thresholds = {}
    for tier in (scoring.RED, scoring.ORANGE, scoring.YELLOW):
        value = _number(thresholds.get(tier))
        if value is None or value <= 0:
            errors.setdefault(f"threshold_{tier}", []).append(_("Give a number above 0."))
        else:
            clean_thresholds[tier] = value
    if len(clean_thresholds) == 3 and not (
        clean_thresholds[scoring.RED] > clean_thresholds[scoring.ORANGE] > clean_thresholds[scoring.YELLOW]
    ):
        errors.setdefault("thresholds", []).append(
            _("The thresholds must decrease: red above orange, orange above yellow.")
        )
    clean_days: dict[str, int] = {}
    if not isinstance(follow_up_days, Mapping):
        follow_up_days = {}
    for tier in scoring.TIERS:
        days = _number(follow_up_days.get(tier))
        if days is None or days != int(days) or not 1 <= days <= 366:
            errors.setdefault(f"days_{tier}", []).append(_("Give a whole number of days from 1 to 366."))
        else:
            clean_days[tier] = int(days)
    if not Category.objects.filter(code=case_category_code, is_active=True).exists():
        errors.setdefault("case_category_code", []).append(_("Choose an active case category."))
    if errors:
        raise ValidationError(errors)
    return clean_factors, clean_thresholds, clean_days


@transaction.atomic
def save_model_version(
    *,
    actor: Any,
    factors: Any,
    thresholds: Any,
    follow_up_days: Any,
    case_category_code: str,
    note: str = "",
) -> AssessmentModel:
    """A new version of the assessment model becomes current; assessments keep theirs."""
    if not actor.has_perm(MODEL_PERMISSION):
        raise PermissionDenied(_("You may not change the assessment model."))
    clean_factors, clean_thresholds, clean_days = validate_model(
        factors, thresholds, follow_up_days, case_category_code
    )
    previous = AssessmentModel.objects.select_for_update().filter(is_current=True).first()
    latest = AssessmentModel.objects.order_by("-version").values_list("version", flat=True).first() or 0
    if previous is not None:
        previous.is_current = False
        previous.save(update_fields=["is_current"])
    created = AssessmentModel.objects.create(
        version=latest + 1,
        factors=clean_factors,
        thresholds=clean_thresholds,
        follow_up_days=clean_days,
        case_category_code=case_category_code,
        note=note.strip()[:200],
        is_current=True,
        created_by=actor,
        created_at=timezone.now(),
    )
    record(
        "grid.model.new_version",
        actor=actor,
        obj=created,
        before=None if previous is None else _model_snapshot(previous),
        after=_model_snapshot(created),
    )
    return created


def _model_snapshot(model: AssessmentModel) -> dict[str, Any]:
    return {
        "version": model.version,
        "factors": [
            {"code": f["code"], "weight": f["weight"], "required": f["required"], "levels": len(f["levels"])}
            for f in model.factors
        ],
        "thresholds": model.thresholds,
        "follow_up_days": model.follow_up_days,
        "case_category_code": model.case_category_code,
    }


# --- visits and assessments -------------------------------------------------------------


def _household_in_scope(actor: Any, household: Household | int, perm_action: str = "view") -> Household:
    pk = household.pk if isinstance(household, Household) else int(household)
    found: Household | None = (
        Household.objects.restrict(actor, perm_action).select_related("grid", "grid__parent").filter(pk=pk).first()
    )
    if found is None:
        raise PermissionDenied(_("This household is not in your scope."))
    return found


def _clean_answers(model: AssessmentModel, answers: Mapping[str, Any]) -> dict[str, str]:
    spec = model.spec()
    clean = {str(k): str(v) for k, v in answers.items() if v not in (None, "")}
    errors: dict[str, list[str]] = {}
    for code in scoring.unknown_answers(spec, clean):
        errors[f"factor_{code}"] = [_("Choose one of the listed levels.")]
    for factor in scoring.missing_required(spec, clean):
        if f"factor_{factor.code}" not in errors:
            errors[f"factor_{factor.code}"] = [
                _("“%(factor)s” is required for an assessment.") % {"factor": factor_label(factor)}
            ]
    if errors:
        missing = scoring.missing_required(spec, clean)
        if missing:
            errors["__all__"] = [
                _("The assessment is missing required factors: %(factors)s.")
                % {"factors": "、".join(factor_label(f) for f in missing)}
            ]
        raise ValidationError(errors)
    return clean


def factor_label(factor: scoring.FactorSpec | scoring.LevelSpec | scoring.Contribution) -> str:
    """The label in the user's language (Chinese labels are the default)."""
    from django.utils.translation import get_language

    english = (get_language() or "").startswith("en")
    label_en = getattr(factor, "label_en", "")
    return str(label_en) if english and label_en else str(factor.label)


def _validate_visit(
    actor: Any,
    household: Household,
    *,
    visited_at: datetime.datetime,
    lng: float | None,
    lat: float | None,
    notes: str,
    files: Sequence[UploadedFile],
    resident: Resident | None,
) -> None:
    errors: dict[str, list[str]] = {}
    now = timezone.now()
    if timezone.is_naive(visited_at):
        errors["visited_at"] = [_("The time of the visit needs a time zone.")]
    elif visited_at > now + FUTURE_SLACK:
        errors["visited_at"] = [_("The visit cannot be in the future.")]
    elif visited_at < now - MAX_BACKDATE:
        errors["visited_at"] = [_("Record visits within 30 days.")]
    if (lng is None) != (lat is None):
        errors["location"] = [_("Give both longitude and latitude, or neither.")]
    elif lng is not None and lat is not None and not (-180 <= lng <= 180 and -90 <= lat <= 90):
        errors["location"] = [_("The location is not a valid longitude/latitude.")]
    if len(notes) > MAX_NOTES:
        errors["notes"] = [
            _("The notes are too long (%(n)d characters, at most %(max)d).") % {"n": len(notes), "max": MAX_NOTES}
        ]
    if resident is not None and resident.household_id != household.pk:
        errors["resident"] = [_("That person is not a member of this household.")]
    photo_errors: list[str] = []
    if len(files) > MAX_PHOTOS:
        photo_errors.append(_("At most %(n)d photos.") % {"n": MAX_PHOTOS})
    for f in files:
        try:
            validate_upload(f)
        except ValidationError as exc:
            photo_errors.extend(exc.messages)
    if photo_errors:
        errors["photos"] = photo_errors
    if errors:
        raise ValidationError(errors)


def _locate(household: Household, lng: float | None, lat: float | None) -> tuple[Any, bool]:
    """(grid at the location, whether it is outside the household's grid)."""
    if lng is None or lat is None:
        return None, False
    from fengqiao.regions.locate import locate

    grid, _community = locate(lng, lat)
    outside = grid is None or grid.pk != household.grid_id
    return grid, outside


@transaction.atomic
def record_visit(
    *,
    actor: Any,
    household: Household | int,
    visited_at: datetime.datetime | None = None,
    lng: float | None = None,
    lat: float | None = None,
    notes: str = "",
    files: Sequence[UploadedFile] = (),
    resident: Resident | None = None,
    answers: Mapping[str, Any] | None = None,
) -> Visit:
    """A visit, with its assessment when ``answers`` has any (the tier follows; red opens a case).

    The phone's location, if given, is located by point-in-polygon: a visit
    outside the household's grid is kept and flagged (``outside_grid``).
    """
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(VISIT_PERMISSION):
        raise PermissionDenied(_("You may not record visits."))
    target = _household_in_scope(actor, household)
    when = visited_at or timezone.now()
    notes = (notes or "").strip()
    files = list(files)
    _validate_visit(actor, target, visited_at=when, lng=lng, lat=lat, notes=notes, files=files, resident=resident)
    model = None
    clean: dict[str, str] = {}
    if answers and any(v not in (None, "") for v in answers.values()):
        if not actor.has_perm(ASSESS_PERMISSION):
            raise PermissionDenied(_("You may not record assessments."))
        model = current_model()
        clean = _clean_answers(model, answers)
    located, outside = _locate(target, lng, lat)
    locked = Household.objects.select_for_update().get(pk=target.pk)  # one writer per household
    visit = Visit.objects.create(
        household=locked,
        resident=resident,
        visitor=actor,
        visited_at=when,
        grid_id=target.grid_id,
        region_path=target.region_path,
        lng=lng,
        lat=lat,
        located_grid=located,
        outside_grid=outside,
        notes=notes,
    )
    for f in files:
        content_type = validate_upload(f)
        VisitPhoto.objects.create(
            visit=visit, file=f, content_type=content_type, size=f.size or 0, original_name=(f.name or "")[-200:]
        )
    record(
        "grid.visit.record",
        actor=actor,
        obj=visit,
        after={
            "household": target.number,
            "visited_at": when,
            "located": lng is not None,
            "outside_grid": outside,
            "photos": len(files),
            "assessed": model is not None,
        },
    )
    if model is not None:
        _assess(actor, target, model, clean, at=when, visit=visit)
    else:
        _followed_up(target, when)
    return visit


@transaction.atomic
def assess_household(
    *, actor: Any, household: Household | int, answers: Mapping[str, Any], at: datetime.datetime | None = None
) -> Assessment:
    """An assessment without a visit record (e.g. entered at the office after a phone call)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(ASSESS_PERMISSION):
        raise PermissionDenied(_("You may not record assessments."))
    target = _household_in_scope(actor, household)
    model = current_model()
    clean = _clean_answers(model, answers)
    Household.objects.select_for_update().get(pk=target.pk)
    return _assess(actor, target, model, clean, at=at or timezone.now(), visit=None)


def _followed_up(household: Household, at: datetime.datetime) -> None:
    HouseholdTier.objects.filter(household=household, last_followed_at__lt=at).update(last_followed_at=at)


def _assess(
    actor: Any,
    household: Household,
    model: AssessmentModel,
    answers: dict[str, str],
    *,
    at: datetime.datetime,
    visit: Visit | None,
) -> Assessment:
    result = scoring.score(model.spec(), answers)
    assessment = Assessment.objects.create(
        household=household,
        visit=visit,
        model=model,
        answers=answers,
        score=result.score,
        tier=result.tier,
        reasons=[
            {"code": c.code, "label": c.label, "level": c.level, "level_label": c.level_label, "points": c.points}
            for c in result.contributions
        ],
        assessed_by=actor,
        assessed_at=at,
        region_path=household.region_path,
    )
    state = HouseholdTier.objects.select_related("case").filter(household=household).first()
    before = None if state is None else {"tier": state.tier, "score": state.score}
    open_case = state.case if state is not None and state.case is not None and state.case.state in OPEN_STATES else None
    case = open_case
    if result.tier == Tier.RED and open_case is None:
        case = _open_case(actor, household, model, assessment, result)
        assessment.case = case
        assessment.save(update_fields=["case"])
    if state is None:
        state = HouseholdTier(household=household, tier_since=at, last_followed_at=at)
    elif state.tier != result.tier:
        state.tier_since = at
    state.region_path = household.region_path
    state.tier = result.tier
    state.score = result.score
    state.assessment = assessment
    state.last_followed_at = max(state.last_followed_at, at)
    state.case = case
    state.save()
    record(
        "grid.assessment.record",
        actor=actor,
        obj=assessment,
        before=before,
        after={
            "household": household.number,
            "model_version": model.version,
            "score": result.score,
            "tier": result.tier,
            "reasons": [c.code for c in result.contributions],
            "case": case.number if case is not None else None,
        },
    )
    return assessment


def _case_category(model: AssessmentModel, household: Household) -> Category:
    """The model's case category: the district's own one, else the shared default."""
    active = Category.objects.filter(code=model.case_category_code, is_active=True)
    found = (
        active.filter(district__path=household.region_path[:6]).first() or active.filter(district__isnull=True).first()
    )
    if found is None:
        raise ValidationError(
            {"__all__": [_("The case category of the assessment model is missing; tell the administrator.")]}
        )
    return found


def _open_case(
    actor: Any, household: Household, model: AssessmentModel, assessment: Assessment, result: scoring.Result
) -> Case:
    """The case a household turning red opens: the normal intake (triage at the street centre,
    a duty alert on its console), filed by the visitor so they can follow it."""
    from fengqiao.regions.locate import locate

    reasons = "；".join(f"{factor_label(c)}：{c.level_label}（{c.points:g}）" for c in result.contributions)
    description = _(
        "Household %(number)s (%(address)s) was assessed red (score %(score)s) by a door-to-door visit. "
        "Reasons: %(reasons)s. Please arrange mediation or police follow-up."
    ) % {"number": household.number, "address": household.address, "score": f"{result.score:g}", "reasons": reasons}
    lng, lat = household.lng, household.lat
    if lng is not None and lat is not None:
        grid, _community = locate(lng, lat)
        if grid is None or grid.pk != household.grid_id:
            lng = lat = None  # the recorded position is off: route by the household's community instead
    community = household.grid.parent
    if community is not None and community.level != Level.COMMUNITY:
        community = None
    case = submit_case(
        category=_case_category(model, household),
        description=description,
        channel=Channel.ASSESSMENT,
        actor=actor,
        community=community,
        lng=lng,
        lat=lat,
        address=household.address,
        title=_("Household %(number)s assessed red") % {"number": household.number},
        idempotency_key=f"grid-assessment:{assessment.pk}",
    )
    record(
        "grid.tier.case_opened",
        actor=actor,
        obj=assessment,
        after={"household": household.number, "case": case.number, "category": case.category.code},
    )
    return case
