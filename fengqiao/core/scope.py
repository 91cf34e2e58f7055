"""Data scope: the one path by which every view and API restricts what a user reads.

A role grants permissions together with a data scope (all / custom units /
own unit / own unit and below / the grids one is responsible for / self). Across a user's roles the scopes are
OR-ed; a user with no role granting the permission sees nothing (deny by
default). Each scoped model names, in ``scope_spec``, where its region path,
unit and owner live; "unit and below" is then an indexed prefix query on the
materialised region path.

``Model.objects.restrict(user, "view")`` is the whole API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


class DataScope(models.TextChoices):
    ALL = "all", _("All data")
    CUSTOM = "custom", _("Selected units and below")
    UNIT = "unit", _("Own unit only")
    UNIT_AND_BELOW = "unit_and_below", _("Own unit and below")
    GRIDS = "grids", _("Grids I am responsible for")
    SELF = "self", _("Own records only")


@dataclass(frozen=True)
class Grant:
    """One role's contribution to a permission: its scope, resolved for the user."""

    scope: str
    user_id: int
    unit_id: int | None = None
    unit_path: str | None = None
    custom: tuple[tuple[int, str], ...] = ()
    grid_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScopeSpec:
    """Where a model keeps the fields a data scope filters on.

    ``region_path``: lookup of the materialised region path (prefix-searched).
    ``unit``: lookup of the owning unit's id ("pk" for the Unit model itself).
    ``owner``: lookup of the owning user's id, for the "self" scope (a tuple: any of them, e.g. a
    case's handler and the staff member who filed it).
    ``shared``: reference data (e.g. roles) that is not tied to a place: any
    grant of the permission, whatever its scope, sees every row.
    """

    region_path: str | None = "region_path"
    unit: str | None = None
    owner: str | tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    shared: bool = False


class ScopedUser(Protocol):
    is_authenticated: bool
    is_active: bool
    is_superuser: bool

    def get_grants(self, perm: str) -> list[Grant]: ...


def _owner_q(spec: ScopeSpec, user_id: int) -> Q | None:
    if not spec.owner:
        return None
    fields = (spec.owner,) if isinstance(spec.owner, str) else spec.owner
    result: Q | None = None
    for name in fields:
        part = Q(**{name: user_id})
        result = part if result is None else result | part
    return result


def _grant_q(grant: Grant, spec: ScopeSpec) -> Q | None:
    if grant.scope not in DataScope.values:
        return None  # unknown scope: fail closed
    if grant.scope == DataScope.ALL or spec.shared:
        return Q()
    if grant.scope == DataScope.SELF:
        return _owner_q(spec, grant.user_id)
    if grant.scope == DataScope.UNIT:
        if spec.unit and grant.unit_id is not None:
            return Q(**{spec.unit: grant.unit_id})
        if spec.region_path and grant.unit_path:
            return Q(**{spec.region_path: grant.unit_path})
        return None
    if grant.scope == DataScope.UNIT_AND_BELOW:
        if spec.region_path and grant.unit_path:
            return Q(**{f"{spec.region_path}__under": grant.unit_path})
        if spec.unit and grant.unit_id is not None:
            return Q(**{spec.unit: grant.unit_id})
        return None
    if grant.scope == DataScope.GRIDS:
        # the grids the user is responsible for (grid worker, community police officer)
        grids: Q | None = None
        if spec.region_path:
            for grid_path in grant.grid_paths:
                if not grid_path:
                    continue  # an empty path would be "everything": fail closed
                in_grid = Q(**{f"{spec.region_path}__under": grid_path})
                grids = in_grid if grids is None else grids | in_grid
        own = _owner_q(spec, grant.user_id)
        if own is not None:
            grids = own if grids is None else grids | own
        return grids
    if grant.scope == DataScope.CUSTOM:
        result: Q | None = None
        for unit_id, unit_path in grant.custom:
            part: Q | None = None
            if spec.region_path and unit_path:
                part = Q(**{f"{spec.region_path}__under": unit_path})
            elif spec.unit:
                part = Q(**{spec.unit: unit_id})
            if part is not None:
                result = part if result is None else result | part
        return result
    return None  # unknown scope: fail closed


def scope_q(user: ScopedUser | AnonymousUser, perm: str, spec: ScopeSpec) -> Q | None:
    """The filter for ``perm`` on a model with ``spec``; None means "nothing"."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    if getattr(user, "is_superuser", False):
        return Q()
    result: Q | None = None
    for grant in user.get_grants(perm):  # type: ignore[union-attr]
        part = _grant_q(grant, spec)
        if part is None:
            continue
        if not part:  # Q() == everything
            return Q()
        result = part if result is None else result | part
    return result


_QS = TypeVar("_QS", bound="RestrictedQuerySet[Any]")
_M = TypeVar("_M", bound=models.Model)


class RestrictedQuerySet(models.QuerySet[_M]):
    def restrict(self: _QS, user: Any, action: str = "view") -> _QS:
        model = self.model
        spec: ScopeSpec | None = getattr(model, "scope_spec", None)
        if spec is None:
            raise TypeError(f"{model._meta.label} has no scope_spec; it cannot be restricted.")
        perm = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        q = scope_q(user, perm, spec)
        if q is None:
            return self.none()
        return self.filter(q) if q else self
