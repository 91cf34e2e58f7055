"""Writes of the teams app: members, patrol records, findings reported as cases.

Each function validates first (``ValidationError`` keyed by field, in the
user's language), writes, and audits, in one transaction; nothing is written
when anything is wrong. Which teams an actor may write to is the data scope of
the permission (``teams_where``): a team is in scope like a row whose region
path is the team's and whose unit is the team.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import record, snapshot
from fengqiao.core.personal import EncryptedTextField, reveal_field
from fengqiao.core.scope import ScopeSpec, scope_q
from fengqiao.core.validators import validate_phone
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit

from .models import TEAM_KINDS, PatrolFinding, PatrolRecord, TeamMember, TeamRole

NAME_MAX = 50
SKILLS_MAX = 200
TEXT_MAX = 4000
#: the longest patrol the form accepts
PATROL_MAX = datetime.timedelta(hours=24)
ROUTE_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString")
REVEAL_PERMISSION = "teams.reveal_teammember"
REVEALABLE_FIELDS = ("name", "phone")
_TEAM_SPEC = ScopeSpec(region_path="region_path", unit="pk")


def teams_where(actor: Any, perm: str) -> QuerySet[Unit]:
    """Active teams in which ``actor`` may act with ``perm`` (e.g. ``teams.add_teammember``)."""
    q = scope_q(actor, perm, _TEAM_SPEC)
    if q is None:
        return Unit.objects.none()
    return Unit.objects.filter(q, kind__in=TEAM_KINDS, is_active=True)


def _check_team(actor: Any, team: Unit | None, perm: str, errors: dict[str, list[str]]) -> None:
    if team is None:
        errors.setdefault("team", []).append(_("Choose the team."))
        return
    if team.kind not in TEAM_KINDS:
        errors.setdefault("team", []).append(
            _("“%(unit)s” is not a mediation or volunteer team.") % {"unit": team.name}
        )
    elif not team.is_active:
        errors.setdefault("team", []).append(_("The team “%(unit)s” is deactivated.") % {"unit": team.name})
    elif not teams_where(actor, perm).filter(pk=team.pk).exists():
        raise PermissionDenied(_("This team is not in your scope."))


def member_snapshot(member: TeamMember | None) -> dict[str, Any] | None:
    """The audit picture: masks instead of ciphertext, no blind indexes."""
    if member is None:
        return None
    names = [
        f.name
        for f in member._meta.concrete_fields
        if not isinstance(f, EncryptedTextField) and not f.name.endswith("_index")
    ]
    return snapshot(member, fields=names)


def _clean_member(
    *,
    actor: Any,
    team: Unit,
    name: str | None,
    phone: str | None,
    role: str,
    since: datetime.date | None,
    until: datetime.date | None,
    skills: str,
    user: Any,
    resident: Any,
    member: TeamMember | None,
    errors: dict[str, list[str]],
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if not name:
            errors.setdefault("name", []).append(_("Enter the member's name."))
        elif len(name) > NAME_MAX:
            errors.setdefault("name", []).append(
                _("The name is too long (at most %(max)d characters).") % {"max": NAME_MAX}
            )
        clean["name"] = name
    if phone is not None:
        phone = phone.strip()
        if phone:
            try:
                phone = validate_phone(phone)
            except ValidationError as exc:
                errors.setdefault("phone", []).extend(exc.messages)
        clean["phone"] = phone
    if role not in TeamRole.values:
        errors.setdefault("role", []).append(_("Choose the member's role in the team."))
    if since is None:
        errors.setdefault("since", []).append(_("Give the date the membership started."))
    elif since > timezone.localdate():
        errors.setdefault("since", []).append(_("The start date cannot be in the future."))
    if until is not None and since is not None and until < since:
        errors.setdefault("until", []).append(_("The end date cannot be before the start date."))
    skills = (skills or "").strip()
    if len(skills) > SKILLS_MAX:
        errors.setdefault("skills", []).append(
            _("The skills are too long (at most %(max)d characters).") % {"max": SKILLS_MAX}
        )
    if user is not None:
        if not user.is_active:
            errors.setdefault("user", []).append(_("That staff account is not active."))
        else:
            others = TeamMember.objects.filter(team=team, user=user, until__isnull=True)
            if member is not None:
                others = others.exclude(pk=member.pk)
            if others.exists():
                errors.setdefault("user", []).append(_("This staff account is already a member of the team."))
    if resident is not None:
        from fengqiao.registry.models import Resident

        if not Resident.objects.restrict(actor, "view").filter(pk=resident.pk).exists():
            errors.setdefault("resident", []).append(_("That resident is outside your scope."))
    clean.update(role=role, since=since, until=until, skills=skills, user=user, resident=resident)
    return clean


@transaction.atomic
def add_member(
    *,
    actor: Any,
    team: Unit | None,
    name: str,
    phone: str = "",
    role: str = TeamRole.MEMBER,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    skills: str = "",
    user: Any = None,
    resident: Any = None,
) -> TeamMember:
    errors: dict[str, list[str]] = {}
    _check_team(actor, team, "teams.add_teammember", errors)
    if errors or team is None:
        raise ValidationError(errors)
    clean = _clean_member(
        actor=actor,
        team=team,
        name=name,
        phone=phone,
        role=role,
        since=since,
        until=until,
        skills=skills,
        user=user,
        resident=resident,
        member=None,
        errors=errors,
    )
    if errors:
        raise ValidationError(errors)
    member = TeamMember(team=team, region_path=team.region_path, **clean)
    member.save()
    record("teams.member_add", actor=actor, obj=member, after=member_snapshot(member))
    return member


@transaction.atomic
def update_member(
    *,
    actor: Any,
    member: TeamMember,
    name: str | None = None,
    phone: str | None = None,
    role: str,
    since: datetime.date | None,
    until: datetime.date | None = None,
    skills: str = "",
    user: Any = None,
    resident: Any = None,
) -> TeamMember:
    """Change a member; ``name`` / ``phone`` None keep the stored value (they are never shown in clear)."""
    member = TeamMember.objects.select_for_update().select_related("team").get(pk=member.pk)
    errors: dict[str, list[str]] = {}
    _check_team(actor, member.team, "teams.change_teammember", errors)
    if errors:
        raise ValidationError(errors)
    before = member_snapshot(member)
    clean = _clean_member(
        actor=actor,
        team=member.team,
        name=name,
        phone=phone,
        role=role,
        since=since,
        until=until,
        skills=skills,
        user=user,
        resident=resident,
        member=member,
        errors=errors,
    )
    if errors:
        raise ValidationError(errors)
    for key, value in clean.items():
        setattr(member, key, value)
    member.save()
    record("teams.member_update", actor=actor, obj=member, before=before, after=member_snapshot(member))
    return member


@transaction.atomic
def end_member(*, actor: Any, member: TeamMember, until: datetime.date | None) -> TeamMember:
    member = TeamMember.objects.select_for_update().select_related("team").get(pk=member.pk)
    errors: dict[str, list[str]] = {}
    _check_team(actor, member.team, "teams.change_teammember", errors)
    if until is None:
        errors.setdefault("until", []).append(_("Give the last day of the membership."))
    elif until < member.since:
        errors.setdefault("until", []).append(_("The end date cannot be before the start date."))
    elif member.until is not None:
        errors.setdefault("until", []).append(_("This membership has already ended."))
    if errors:
        raise ValidationError(errors)
    before = member_snapshot(member)
    member.until = until
    member.save(update_fields=["until", "updated_at"])
    record("teams.member_end", actor=actor, obj=member, before=before, after=member_snapshot(member))
    return member


def reveal_member_field(*, actor: Any, obj: TeamMember, field: str, reason: str = "") -> str:
    if field not in REVEALABLE_FIELDS:
        raise ValueError(f"{field!r} cannot be revealed")
    return reveal_field(
        actor=actor,
        queryset=TeamMember.objects.restrict(actor, "view"),
        permission=REVEAL_PERMISSION,
        obj=obj,
        field=field,
        reason=reason,
    )


# --- patrols ----------------------------------------------------------------------------


def _check_route(route: Any, errors: dict[str, list[str]]) -> dict[str, Any] | None:
    """A GeoJSON geometry (or a Feature holding one) of points or lines, or nothing."""
    if route in (None, "", {}):
        return None
    if isinstance(route, dict) and route.get("type") == "Feature":
        route = route.get("geometry")
    if not isinstance(route, dict) or route.get("type") not in ROUTE_TYPES:
        errors.setdefault("route", []).append(
            _("The route must be a GeoJSON Point, MultiPoint, LineString or MultiLineString.")
        )
        return None
    try:
        import shapely.geometry

        shape = shapely.geometry.shape(route)
    except Exception:
        errors.setdefault("route", []).append(_("The route's coordinates are not valid GeoJSON."))
        return None
    minx, miny, maxx, maxy = shape.bounds
    if shape.is_empty or not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        errors.setdefault("route", []).append(_("The route's coordinates are not valid longitudes/latitudes."))
        return None
    return dict(route)


def _clean_patrol(
    *,
    team: Unit,
    started_at: datetime.datetime | None,
    ended_at: datetime.datetime | None,
    grids: Sequence[Region],
    participants: Sequence[TeamMember],
    route: Any,
    notes: str,
    findings: str,
    errors: dict[str, list[str]],
) -> dict[str, Any]:
    now = timezone.now()
    if started_at is None:
        errors.setdefault("started_at", []).append(_("Give the time the patrol started."))
    if ended_at is None:
        errors.setdefault("ended_at", []).append(_("Give the time the patrol ended."))
    if started_at is not None and ended_at is not None:
        if timezone.is_naive(started_at) or timezone.is_naive(ended_at):
            errors.setdefault("started_at", []).append(_("The times need a time zone."))
        elif ended_at <= started_at:
            errors.setdefault("ended_at", []).append(_("The patrol must end after it started."))
        elif ended_at - started_at > PATROL_MAX:
            errors.setdefault("ended_at", []).append(_("A patrol lasts at most 24 hours; record longer ones per day."))
        elif ended_at > now + datetime.timedelta(minutes=5):
            errors.setdefault("ended_at", []).append(_("A patrol is recorded after it took place, not before."))
    for grid in grids:
        if grid.level != Level.GRID:
            errors.setdefault("grids", []).append(_("“%(name)s” is not a grid.") % {"name": grid.name})
        elif not grid.path.startswith(team.region_path):
            errors.setdefault("grids", []).append(
                _("The grid “%(name)s” is outside the team's area.") % {"name": grid.name}
            )
    if not participants:
        errors.setdefault("participants", []).append(_("Choose at least one member who took part."))
    for person in participants:
        if person.team_id != team.pk:
            errors.setdefault("participants", []).append(_("%(name)s is not a member of this team.") % {"name": person})
        elif started_at is not None and not person.is_current(timezone.localdate(started_at)):
            errors.setdefault("participants", []).append(
                _("%(name)s was not a member of the team on that day.") % {"name": person}
            )
    clean_route = _check_route(route, errors)
    notes, findings = (notes or "").strip(), (findings or "").strip()
    for key, text in (("notes", notes), ("findings", findings)):
        if len(text) > TEXT_MAX:
            errors.setdefault(key, []).append(
                _("The text is too long (at most %(max)d characters).") % {"max": TEXT_MAX}
            )
    return {"started_at": started_at, "ended_at": ended_at, "route": clean_route, "notes": notes, "findings": findings}


def patrol_snapshot(patrol: PatrolRecord) -> dict[str, Any] | None:
    data = snapshot(patrol)
    if data is not None and patrol.pk is not None:
        data["grids"] = sorted(patrol.grids.values_list("pk", flat=True))
        data["participants"] = sorted(patrol.participants.values_list("pk", flat=True))
    return data


@transaction.atomic
def record_patrol(
    *,
    actor: Any,
    team: Unit | None,
    started_at: datetime.datetime | None,
    ended_at: datetime.datetime | None,
    grids: Sequence[Region] = (),
    participants: Sequence[TeamMember] = (),
    route: Any = None,
    notes: str = "",
    findings: str = "",
) -> PatrolRecord:
    errors: dict[str, list[str]] = {}
    _check_team(actor, team, "teams.add_patrolrecord", errors)
    if errors or team is None:
        raise ValidationError(errors)
    clean = _clean_patrol(
        team=team,
        started_at=started_at,
        ended_at=ended_at,
        grids=grids,
        participants=participants,
        route=route,
        notes=notes,
        findings=findings,
        errors=errors,
    )
    if errors:
        raise ValidationError(errors)
    patrol = PatrolRecord.objects.create(team=team, region_path=team.region_path, recorded_by=actor, **clean)
    patrol.grids.set(list(grids))
    patrol.participants.set(list(participants))
    record("teams.patrol_record", actor=actor, obj=patrol, after=patrol_snapshot(patrol))
    return patrol


@transaction.atomic
def update_patrol(
    *,
    actor: Any,
    patrol: PatrolRecord,
    started_at: datetime.datetime | None,
    ended_at: datetime.datetime | None,
    grids: Sequence[Region] = (),
    participants: Sequence[TeamMember] = (),
    route: Any = None,
    notes: str = "",
    findings: str = "",
) -> PatrolRecord:
    patrol = PatrolRecord.objects.select_for_update().select_related("team", "team__region").get(pk=patrol.pk)
    if not PatrolRecord.objects.restrict(actor, "change").filter(pk=patrol.pk).exists():
        raise PermissionDenied(_("This patrol record is not in your scope."))
    errors: dict[str, list[str]] = {}
    clean = _clean_patrol(
        team=patrol.team,
        started_at=started_at,
        ended_at=ended_at,
        grids=grids,
        participants=participants,
        route=route,
        notes=notes,
        findings=findings,
        errors=errors,
    )
    if errors:
        raise ValidationError(errors)
    before = patrol_snapshot(patrol)
    for key, value in clean.items():
        setattr(patrol, key, value)
    patrol.save()
    patrol.grids.set(list(grids))
    patrol.participants.set(list(participants))
    record("teams.patrol_update", actor=actor, obj=patrol, before=before, after=patrol_snapshot(patrol))
    return patrol


@transaction.atomic
def report_finding(
    *,
    actor: Any,
    patrol: PatrolRecord,
    category: Any,
    description: str,
    lng: float | None = None,
    lat: float | None = None,
    address: str = "",
    community: Region | None = None,
    extra: dict[str, Any] | None = None,
) -> PatrolFinding:
    """Report something the patrol found as a case in the closed loop (排查上报), filed by ``actor``."""
    from fengqiao.cases.models import Channel
    from fengqiao.cases.services import submit_case

    if not actor.has_perm("teams.add_patrolfinding") or not actor.has_perm("cases.add_case"):
        raise PermissionDenied(_("You may not report findings."))
    if not PatrolRecord.objects.restrict(actor, "view").filter(pk=patrol.pk).exists():
        raise PermissionDenied(_("This patrol record is not in your scope."))
    if category is None:
        raise ValidationError({"category": _("Choose a category.")})
    if community is None and lng is None:
        # without a location, the patrol's first grid (or the team's community) places the case
        grid = patrol.grids.order_by("path").first()
        if grid is not None and grid.parent is not None and grid.parent.level == Level.COMMUNITY:
            community = grid.parent
        elif patrol.team.region.level == Level.COMMUNITY:
            community = patrol.team.region
        else:
            raise ValidationError({"location": _("Give the place: tap the map or choose a community.")})
    case = submit_case(
        category=category,
        description=description,
        channel=Channel.GRID,
        actor=actor,
        community=community,
        lng=lng,
        lat=lat,
        address=address,
        extra=extra,
        title=_("Patrol finding: %(team)s") % {"team": patrol.team.name},
    )
    finding = PatrolFinding.objects.create(patrol=patrol, case=case, reported_by=actor)
    record(
        "teams.finding_report",
        actor=actor,
        obj=patrol,
        detail={"case": case.number, "patrol": patrol.pk},
    )
    return finding
