"""No privilege escalation: what an actor may grant, compared scope by scope.

A grant is *covered* by an actor's grants of the same permission when every
row it can reach is reachable by the actor too. Coverage is decided on
region paths (prefix containment), units and the "all" scope:

- "all" is covered only by "all";
- "own unit and below" at path P is covered by a prefix of P the actor holds
  ("all", own unit and below, custom units, grids);
- "own unit only" by the same unit or a covering prefix;
- "custom units" and "grids" when each of their paths is covered;
- "own records only" is the narrowest scope: holding the permission suffices.

When coverage cannot be shown, the answer is "not covered" (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils import timezone

from fengqiao.core.scope import DataScope, Grant

from .models import Role, RoleRow, build_grants

ALL = DataScope.ALL
EVERYTHING = None  # marker: a superuser's grants


def role_rows(roles: Iterable[Role]) -> list[RoleRow]:
    """RoleRows of ``roles`` (loaded freshly with their permissions and custom units)."""
    ids = [role.pk for role in roles]
    rows = []
    for role in Role.objects.filter(pk__in=ids).prefetch_related("permissions__content_type", "custom_units"):
        perms = frozenset(f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all())
        custom = tuple(sorted((u.pk, u.region_path) for u in role.custom_units.all()))
        rows.append(RoleRow(role.data_scope, perms, custom, role.pk))
    return rows


def current_grid_paths(user_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    from fengqiao.units.models import GridAssignment

    today = timezone.localdate()
    result: dict[int, set[str]] = {}
    ids = [uid for uid in user_ids if uid is not None]
    if not ids:
        return {}
    assignments = (
        GridAssignment.objects.filter(user_id__in=ids, valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .values_list("user_id", "region_path")
    )
    for user_id, path in assignments:
        result.setdefault(user_id, set()).add(path)
    return {uid: tuple(sorted(paths)) for uid, paths in result.items()}


def grants_by_perm(
    rows: list[RoleRow], *, user_id: Any, unit: Any, grid_paths: tuple[str, ...]
) -> dict[str, list[Grant]]:
    """Every permission ``rows`` give, with the grants a user in ``unit`` would have."""
    perms: set[str] = set()
    for row in rows:
        perms |= row.permissions
    unit_id = unit.pk if unit is not None else None
    unit_path = unit.region_path if unit is not None else None
    return {
        perm: build_grants(
            [row for row in rows if perm in row.permissions],
            user_id=user_id or 0,
            unit_id=unit_id,
            unit_path=unit_path,
            grid_paths=grid_paths,
        )
        for perm in sorted(perms)
    }


def actor_grants(actor: Any, perm: str) -> list[Grant] | None:
    """The actor's grants of ``perm``; None for a superuser (everything)."""
    if not getattr(actor, "is_active", False):
        return []
    if actor.is_superuser:
        return EVERYTHING
    return list(actor.get_grants(perm))


def _prefixes(held: list[Grant]) -> list[str]:
    result: list[str] = []
    for grant in held:
        if grant.scope == DataScope.UNIT_AND_BELOW and grant.unit_path:
            result.append(grant.unit_path)
        elif grant.scope == DataScope.CUSTOM:
            result.extend(path for _unit_id, path in grant.custom if path)
        elif grant.scope == DataScope.GRIDS:
            result.extend(path for path in grant.grid_paths if path)
    return result


def _under(path: str | None, prefixes: list[str]) -> bool:
    return bool(path) and any(path.startswith(prefix) for prefix in prefixes)  # type: ignore[union-attr]


def covers(held: list[Grant] | None, target: Grant) -> bool:
    """Whether the actor's ``held`` grants reach every row ``target`` reaches."""
    if held is EVERYTHING:
        return True
    if not held:
        return False
    if any(grant.scope == ALL for grant in held):
        return True
    if target.scope == ALL:
        return False
    if target.scope == DataScope.SELF:
        return True
    prefixes = _prefixes(held)
    same_unit = target.unit_id is not None and any(
        grant.scope in (DataScope.UNIT, DataScope.UNIT_AND_BELOW) and grant.unit_id == target.unit_id for grant in held
    )
    if target.scope == DataScope.UNIT:
        if target.unit_id is None and not target.unit_path:
            return True  # reaches nothing
        return same_unit or _under(target.unit_path, prefixes)
    if target.scope == DataScope.UNIT_AND_BELOW:
        if target.unit_path:
            return _under(target.unit_path, prefixes)
        if target.unit_id is None:
            return True  # reaches nothing
        return same_unit
    if target.scope == DataScope.CUSTOM:
        return all(_under(path, prefixes) for _unit_id, path in target.custom if path)
    if target.scope == DataScope.GRIDS:
        return all(_under(path, prefixes) for path in target.grid_paths if path)
    return False


def uncovered(actor: Any, grants: dict[str, list[Grant]]) -> tuple[list[str], list[str]]:
    """(permissions the actor does not hold, permissions whose scope would exceed the actor's)."""
    missing: list[str] = []
    wider: list[str] = []
    for perm, targets in grants.items():
        held = actor_grants(actor, perm)
        if held is not EVERYTHING and not held:
            missing.append(perm)
        elif not all(covers(held, target) for target in targets):
            wider.append(perm)
    return missing, wider


_RANK = {
    DataScope.SELF: 1,
    DataScope.GRIDS: 2,
    DataScope.UNIT: 2,
    DataScope.CUSTOM: 3,
    DataScope.UNIT_AND_BELOW: 3,
    DataScope.ALL: 4,
}


def definition_uncovered(
    actor: Any, perms: Iterable[str], data_scope: str, custom_paths: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Check a role definition (not yet bound to a user and unit) against the actor's grants.

    The scope must be no wider in kind than one the actor holds for each permission, and
    custom units must lie inside the actor's reach. The concrete check happens again
    whenever the role is given to someone.
    """
    missing: list[str] = []
    wider: list[str] = []
    paths = [path for path in custom_paths if path]
    for perm in sorted(set(perms)):
        held = actor_grants(actor, perm)
        if held is EVERYTHING:
            continue
        if not held:
            missing.append(perm)
            continue
        best = max((_RANK[DataScope(g.scope)] for g in held if g.scope in DataScope.values), default=0)
        if _RANK.get(DataScope(data_scope), 99) > best:
            wider.append(perm)
        elif data_scope == DataScope.CUSTOM and not any(g.scope == ALL for g in held):
            prefixes = _prefixes(held)
            if not all(_under(path, prefixes) for path in paths):
                wider.append(perm)
    return missing, wider
