"""Writes to the region tree. Every function validates, writes and audits in one transaction."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.audit.services import record, snapshot

from . import geometry
from .models import Level, Region
from .rules import code_problems, level_label, level_problems, path_for

_UNSET: Any = object()


def region_snapshot(region: Region | None) -> dict[str, Any] | None:
    """The audit picture of a region: every field, but only a digest of the boundary."""
    data = snapshot(region)
    if data is not None and region is not None:
        data["boundary"] = geometry.digest(region.boundary)
    return data


def _overlapping_current(path: str, since: datetime.date | None, exclude_pk: int | None = None) -> Region | None:
    """A region with this path whose validity reaches into [since, ∞), if any."""
    day = since or timezone.localdate()
    qs = Region.objects.filter(path=path).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.first()


def current_grids_in_county(county_path: str, exclude: set[int] | None = None) -> geometry.Index[Region]:
    """An STRtree over the current grids with a boundary in one county (for overlap checks)."""
    qs = Region.objects.current().filter(level=Level.GRID, path__under=county_path, boundary__isnull=False)
    if exclude:
        qs = qs.exclude(pk__in=exclude)
    items = []
    for grid in qs.only("pk", "code", "name", "path", "boundary"):
        geom = geometry.load_stored(grid.boundary)
        if geom is not None:
            items.append((grid, geom))
    return geometry.Index(items)


def grid_boundary_problems(
    boundary: geometry.Boundary, *, code: str, community: Region | None, exclude_pk: int | None = None
) -> list[str]:
    """A grid must not overlap another current grid and should lie within its community."""
    problems: list[str] = []
    exclude = {exclude_pk} if exclude_pk is not None else set()
    index = current_grids_in_county(code[:6], exclude)
    others = index.overlapping(boundary.geometry)
    if others:
        problems.append(
            _(
                "The grid boundary overlaps the current grid(s) %(grids)s; grids must not overlap. "
                "Adjust the shared edge."
            )
            % {"grids": "、".join(f"{g.name} ({g.code})" for g in others)}
        )
    if community is not None:
        container = geometry.load_stored(community.boundary)
        if container is not None:
            share = geometry.outside_share(boundary.geometry, container)
            if share > geometry.OUTSIDE_TOLERANCE:
                problems.append(
                    _(
                        "%(pct).1f%% of the grid lies outside its community %(community)s "
                        "(at most %(max).0f%% is tolerated). Draw the grid inside the community's boundary."
                    )
                    % {"pct": share * 100, "community": community, "max": geometry.OUTSIDE_TOLERANCE * 100}
                )
    return problems


def _check_boundary(
    value: Any, *, level: int, code: str, parent: Region | None, exclude_pk: int | None
) -> geometry.Boundary | None:
    if value is None or value == "" or value == {}:
        return None
    try:
        boundary = geometry.parse_boundary(value)
    except ValidationError as exc:
        raise ValidationError({"boundary": exc.messages}) from exc
    if level == Level.GRID:
        problems = grid_boundary_problems(boundary, code=code, community=parent, exclude_pk=exclude_pk)
        if problems:
            raise ValidationError({"boundary": problems})
    return boundary


def _apply_boundary(region: Region, boundary: geometry.Boundary | None) -> None:
    if boundary is None:
        region.boundary = None
        region.centroid_lng = region.centroid_lat = None
    else:
        region.boundary = boundary.data
        region.centroid_lng, region.centroid_lat = boundary.centroid


def _is_current_on(region: Region, day: datetime.date) -> bool:
    return (region.valid_from is None or region.valid_from <= day) and (
        region.valid_to is None or region.valid_to > day
    )


@transaction.atomic
def create_region(
    *,
    actor: Any,
    parent: Region,
    code: str,
    name: str,
    level: int,
    valid_from: datetime.date | None = None,
    boundary: Any = None,
) -> Region:
    """Add a street/town, community/village or grid under ``parent``."""
    code = (code or "").strip()
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors.setdefault("name", []).append(_("The name is required."))
    if parent is None:
        raise ValidationError({"parent": _("Choose the parent region.")})
    parent = Region.objects.select_for_update().get(pk=parent.pk)
    level_errors = level_problems(level, parent.level)
    if level_errors:
        errors.setdefault("level", []).extend(level_errors)
    else:
        code_errors = code_problems(code, level, parent.code, parent.level)
        if code_errors:
            errors.setdefault("code", []).extend(code_errors)
    day = valid_from or timezone.localdate()
    if not _is_current_on(parent, day):
        errors.setdefault("parent", []).append(
            _("The parent %(parent)s is not in force on %(day)s; choose a current parent region.")
            % {"parent": parent, "day": day.isoformat()}
        )
    if valid_from and parent.valid_from and valid_from < parent.valid_from:
        errors.setdefault("valid_from", []).append(
            _("The region cannot start (%(day)s) before its parent does (%(parent_day)s).")
            % {"day": valid_from.isoformat(), "parent_day": parent.valid_from.isoformat()}
        )
    if errors:
        raise ValidationError(errors)
    path = path_for(code, level)
    existing = _overlapping_current(path, valid_from)
    if existing is not None:
        raise ValidationError(
            {
                "code": _("There is already a current region %(region)s with the code %(code)s; codes must be unique.")
                % {"region": existing, "code": existing.code}
            }
        )
    checked = _check_boundary(boundary, level=level, code=code, parent=parent, exclude_pk=None)
    region = Region(code=code, name=name, level=level, parent=parent, path=path, valid_from=valid_from)
    _apply_boundary(region, checked)
    region.save()
    record("region.create", actor=actor, obj=region, after=region_snapshot(region))
    return region


@transaction.atomic
def update_region(
    *,
    actor: Any,
    region: Region,
    name: str | None = None,
    valid_from: Any = _UNSET,
    successor_codes: str | None = None,
    boundary: Any = _UNSET,
) -> Region:
    """Change a region's name, start date, successor codes and/or boundary.

    The code and the level cannot change (the path of everything below hangs
    on them): retire the region and create a new one instead.
    """
    region = Region.objects.select_for_update().get(pk=region.pk)
    before = region_snapshot(region)
    errors: dict[str, list[str]] = {}
    if name is not None:
        name = name.strip()
        if not name:
            errors.setdefault("name", []).append(_("The name is required."))
        else:
            region.name = name
    if valid_from is not _UNSET:
        if valid_from and region.valid_to and valid_from >= region.valid_to:
            errors.setdefault("valid_from", []).append(_("The start date must be before the end date."))
        parent = region.parent
        if valid_from and parent is not None and parent.valid_from and valid_from < parent.valid_from:
            errors.setdefault("valid_from", []).append(
                _("The region cannot start (%(day)s) before its parent does (%(parent_day)s).")
                % {"day": valid_from.isoformat(), "parent_day": parent.valid_from.isoformat()}
            )
        region.valid_from = valid_from
    if successor_codes is not None:
        region.successor_codes = successor_codes.strip()
    if errors:
        raise ValidationError(errors)
    if boundary is not _UNSET:
        checked = _check_boundary(
            boundary, level=region.level, code=region.code, parent=region.parent, exclude_pk=region.pk
        )
        _apply_boundary(region, checked)
    region.save()
    after = region_snapshot(region)
    record("region.update", actor=actor, obj=region, before=before, after=after)
    return region


def set_boundary(*, actor: Any, region: Region, boundary: Any) -> Region:
    """Replace (or, with None, remove) a region's boundary polygon."""
    return update_region(actor=actor, region=region, boundary=boundary)


@transaction.atomic
def retire_region(
    *, actor: Any, region: Region, valid_to: datetime.date | None = None, successor_codes: str = ""
) -> Region:
    """End a region's validity (its code stays in history). Refused while anything current hangs on it."""
    region = Region.objects.select_for_update().get(pk=region.pk)
    day = valid_to or timezone.localdate()
    if region.valid_to is not None and region.valid_to <= timezone.localdate():
        raise ValidationError({"valid_to": _("This region was already retired on %(day)s.") % {"day": region.valid_to}})
    if region.valid_from and day <= region.valid_from:
        raise ValidationError(
            {
                "valid_to": _("The end date must be after the start date (%(day)s).")
                % {"day": region.valid_from.isoformat()}
            }
        )
    children = region.children.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
    n_children = children.count()
    if n_children:
        names = "、".join(str(c) for c in children[:5])
        raise ValidationError(
            {
                "valid_to": _(
                    "%(region)s still has %(n)s current %(level)s(s) (%(names)s…); retire or move them first."
                )
                % {
                    "region": region,
                    "n": n_children,
                    "level": level_label(children[0].level),
                    "names": names,
                }
            }
        )
    active_units = region.units.filter(is_active=True)
    if active_units.exists():
        raise ValidationError(
            {
                "valid_to": _("Units are still attached to %(region)s (%(units)s); move or deactivate them first.")
                % {"region": region, "units": "、".join(u.name for u in active_units[:5])}
            }
        )
    open_assignments = region.assignments.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
    if open_assignments.exists():
        raise ValidationError(
            {
                "valid_to": _("People are still responsible for grid %(region)s; end their assignments first.")
                % {"region": region}
            }
        )
    before = region_snapshot(region)
    region.valid_to = day
    if successor_codes:
        region.successor_codes = successor_codes.strip()
    region.save(update_fields=["valid_to", "successor_codes", "updated_at"])
    record("region.retire", actor=actor, obj=region, before=before, after=region_snapshot(region))
    return region
