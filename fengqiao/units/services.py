"""Writes to units and grid responsibility. Each function validates, writes and audits in one transaction."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import record, snapshot
from fengqiao.regions.models import Level, Region

from .models import GridAssignment, GridRole, Unit, UnitKind

UNIT_FIELDS = ("name", "code", "kind", "region", "parent", "phone", "address")


def _region_current(region: Region) -> bool:
    today = timezone.localdate()
    return (region.valid_from is None or region.valid_from <= today) and (
        region.valid_to is None or region.valid_to > today
    )


def _descendant_ids(unit: Unit) -> set[int]:
    """The ids of every unit below ``unit`` (the unit tree is shallow: a loop over levels)."""
    found: set[int] = set()
    frontier = {unit.pk}
    while frontier:
        frontier = set(Unit.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - found
        found |= frontier
    return found


def _validate_unit(unit: Unit) -> None:
    errors: dict[str, list[str]] = {}
    unit.name = (unit.name or "").strip()
    unit.code = (unit.code or "").strip()
    if not unit.name:
        errors.setdefault("name", []).append(_("The name is required."))
    if not unit.code:
        errors.setdefault("code", []).append(_("The code is required."))
    elif Unit.objects.filter(code=unit.code).exclude(pk=unit.pk).exists():
        errors.setdefault("code", []).append(
            _("Another unit already has the code %(code)s; unit codes must be unique.") % {"code": unit.code}
        )
    if unit.kind not in UnitKind.values:
        errors.setdefault("kind", []).append(_("Choose the kind of unit."))
    region: Region | None = unit.region if unit.region_id else None
    if region is None:
        errors.setdefault("region", []).append(_("Choose the region the unit belongs to."))
    elif not _region_current(region):
        errors.setdefault("region", []).append(
            _("The region %(region)s is no longer in force; choose a current region.") % {"region": region}
        )
    parent: Unit | None = unit.parent if unit.parent_id else None
    if parent is not None and region is not None:
        if unit.pk is not None and (parent.pk == unit.pk or parent.pk in _descendant_ids(unit)):
            errors.setdefault("parent", []).append(
                _("A unit cannot be placed under itself or one of its own sub-units.")
            )
        elif not parent.is_active:
            errors.setdefault("parent", []).append(
                _("The parent unit %(parent)s is deactivated; choose an active unit.") % {"parent": parent}
            )
        elif not region.path.startswith(parent.region_path):
            errors.setdefault("parent", []).append(
                _(
                    "The parent unit %(parent)s belongs to %(parent_region)s, which is not the same as or above "
                    "%(region)s; a parent unit must sit at the same region or a higher one."
                )
                % {"parent": parent, "parent_region": parent.region, "region": region}
            )
    if unit.pk is not None and region is not None:
        stray = [
            child
            for child in Unit.objects.filter(parent=unit, is_active=True).select_related("region")
            if not child.region_path.startswith(region.path)
        ]
        if stray:
            errors.setdefault("region", []).append(
                _("Sub-units %(units)s would then sit outside the unit's region; move them first.")
                % {"units": "、".join(str(c) for c in stray[:5])}
            )
    if errors or region is None:
        raise ValidationError(errors)
    unit.region_path = region.path


@transaction.atomic
def create_unit(
    *,
    actor: Any,
    name: str,
    code: str,
    kind: str,
    region: Region,
    parent: Unit | None = None,
    phone: str = "",
    address: str = "",
) -> Unit:
    unit = Unit(
        name=name, code=code, kind=kind, region=region, parent=parent, phone=phone.strip(), address=address.strip()
    )
    _validate_unit(unit)
    unit.save()
    record("unit.create", actor=actor, obj=unit, after=snapshot(unit))
    return unit


@transaction.atomic
def update_unit(*, actor: Any, unit: Unit, **changes: Any) -> Unit:
    """Change any of name, code, kind, region, parent, phone, address."""
    unknown = set(changes) - set(UNIT_FIELDS)
    if unknown:
        raise TypeError(f"update_unit() got unexpected fields {sorted(unknown)}")
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    before = snapshot(unit)
    for key, value in changes.items():
        setattr(unit, key, value.strip() if isinstance(value, str) else value)
    _validate_unit(unit)
    unit.save()
    record("unit.update", actor=actor, obj=unit, before=before, after=snapshot(unit))
    return unit


@transaction.atomic
def deactivate_unit(*, actor: Any, unit: Unit) -> Unit:
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    if not unit.is_active:
        raise ValidationError(_("The unit %(unit)s is already deactivated.") % {"unit": unit})
    children = list(Unit.objects.filter(parent=unit, is_active=True)[:5])
    if children:
        raise ValidationError(
            _("The unit still has active sub-units (%(units)s); deactivate or move them first.")
            % {"units": "、".join(str(c) for c in children)}
        )
    before = snapshot(unit)
    unit.is_active = False
    unit.save(update_fields=["is_active", "updated_at"])
    record("unit.deactivate", actor=actor, obj=unit, before=before, after=snapshot(unit))
    return unit


@transaction.atomic
def reactivate_unit(*, actor: Any, unit: Unit) -> Unit:
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    if unit.is_active:
        return unit
    before = snapshot(unit)
    unit.is_active = True
    _validate_unit(unit)
    unit.save(update_fields=["is_active", "region_path", "updated_at"])
    record("unit.reactivate", actor=actor, obj=unit, before=before, after=snapshot(unit))
    return unit


def _overlaps(qs: Any, start: datetime.date) -> Any:
    return qs.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start))


@transaction.atomic
def assign_grid(
    *, actor: Any, grid: Region, user: Any, role: str, valid_from: datetime.date | None = None
) -> GridAssignment:
    """Make ``user`` responsible for ``grid`` in ``role`` from ``valid_from`` (default today)."""
    start = valid_from or timezone.localdate()
    errors: dict[str, list[str]] = {}
    grid = Region.objects.select_for_update().get(pk=grid.pk)
    if grid.level != Level.GRID:
        errors.setdefault("grid", []).append(
            _("%(region)s is a %(level)s, not a grid; people are assigned to grids.")
            % {"region": grid, "level": grid.get_level_display()}
        )
    elif grid.valid_to is not None and grid.valid_to <= start:
        errors.setdefault("grid", []).append(
            _("The grid %(grid)s was retired on %(day)s.") % {"grid": grid, "day": grid.valid_to.isoformat()}
        )
    if role not in GridRole.values:
        errors.setdefault("role", []).append(_("Choose the responsibility."))
    if user is None:
        errors.setdefault("user", []).append(_("Choose the person."))
    else:
        if not user.is_active:
            errors.setdefault("user", []).append(_("The account of %(user)s is disabled.") % {"user": user})
        if user.unit_id is None:
            errors.setdefault("user", []).append(
                _("%(user)s belongs to no unit; attach the person to a unit (e.g. the community centre) first.")
                % {"user": user}
            )
        elif not user.unit.is_active:
            errors.setdefault("user", []).append(
                _("%(user)s belongs to the deactivated unit %(unit)s.") % {"user": user, "unit": user.unit}
            )
    if errors:
        raise ValidationError(errors)
    current = _overlaps(GridAssignment.objects.filter(grid=grid), start)
    if current.filter(user=user, role=role).exists():
        raise ValidationError(
            {
                "user": _("%(user)s is already %(role)s of %(grid)s.")
                % {"user": user, "role": GridRole(role).label, "grid": grid}
            }
        )
    if role == GridRole.GRID_LEADER:
        leader = current.filter(role=GridRole.GRID_LEADER).select_related("user").first()
        if leader is not None:
            raise ValidationError(
                {
                    "role": _(
                        "%(grid)s already has a grid leader (%(user)s); a grid has one grid leader. "
                        "End that assignment first."
                    )
                    % {"grid": grid, "user": leader.user}
                }
            )
    assignment = GridAssignment.objects.create(
        grid=grid, user=user, role=role, region_path=grid.path, valid_from=start, valid_to=None
    )
    record("grid_assignment.create", actor=actor, obj=assignment, after=snapshot(assignment))
    return assignment


@transaction.atomic
def end_assignment(*, actor: Any, assignment: GridAssignment, valid_to: datetime.date | None = None) -> GridAssignment:
    """End a grid responsibility on ``valid_to`` (exclusive; default today)."""
    assignment = GridAssignment.objects.select_for_update().get(pk=assignment.pk)
    day = valid_to or timezone.localdate()
    if assignment.valid_to is not None and assignment.valid_to <= timezone.localdate():
        raise ValidationError(
            {"valid_to": _("This assignment already ended on %(day)s.") % {"day": assignment.valid_to.isoformat()}}
        )
    if day < assignment.valid_from:
        raise ValidationError(
            {
                "valid_to": _("The end date cannot be before the start date (%(day)s).")
                % {"day": assignment.valid_from.isoformat()}
            }
        )
    before = snapshot(assignment)
    assignment.valid_to = day
    assignment.save(update_fields=["valid_to"])
    record("grid_assignment.end", actor=actor, obj=assignment, before=before, after=snapshot(assignment))
    return assignment
