"""What the overview page shows: counts and charts within the user's data scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fengqiao.accounts.models import Role, User
from fengqiao.regions.models import Level, Region
from fengqiao.registry.models import Household, Resident
from fengqiao.units.models import GridAssignment, Unit


@dataclass(frozen=True)
class Stat:
    label: str
    value: int
    url_name: str


def _current_regions(user: Any) -> Any:
    today = timezone.localdate()
    return Region.objects.restrict(user).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))


def overview_stats(user: Any) -> list[Stat]:
    """One number per kind of object the user may see, each counted within their scope."""
    stats: list[Stat] = []
    if user.has_perm("regions.view_region"):
        by_level = dict(
            _current_regions(user)
            .filter(level__in=[Level.STREET, Level.COMMUNITY, Level.GRID])
            .values_list("level")
            .annotate(n=Count("id"))
            .values_list("level", "n")
        )
        stats += [
            Stat(str(_("Streets / towns")), by_level.get(Level.STREET, 0), "regions:tree"),
            Stat(str(_("Communities / villages")), by_level.get(Level.COMMUNITY, 0), "regions:tree"),
            Stat(str(_("Grids")), by_level.get(Level.GRID, 0), "regions:tree"),
        ]
    if user.has_perm("units.view_unit"):
        stats.append(Stat(str(_("Units")), Unit.objects.restrict(user).filter(is_active=True).count(), "units:list"))
    if user.has_perm("accounts.view_user"):
        stats.append(
            Stat(str(_("Staff")), User.objects.restrict(user).filter(is_active=True).count(), "accounts:user_list")
        )
    if user.has_perm("registry.view_household"):
        stats.append(Stat(str(_("Households")), Household.objects.restrict(user).count(), "registry:household_list"))
    if user.has_perm("registry.view_resident"):
        stats.append(Stat(str(_("Residents")), Resident.objects.restrict(user).count(), "registry:resident_list"))
    return stats


def residents_by_community(user: Any, limit: int = 30) -> list[tuple[str, int]]:
    """Residents per community (one grouped query on the 12-digit path prefix)."""
    if not user.has_perm("registry.view_resident"):
        return []
    rows: list[dict[str, Any]] = list(
        Resident.objects.restrict(user)
        .annotate(community=Substr("region_path", 1, 12))
        .values("community")
        .annotate(n=Count("id"))
        .order_by("community")[:limit]
    )
    names = dict(
        Region.objects.filter(path__in=[r["community"] for r in rows], valid_to__isnull=True).values_list(
            "path", "name"
        )
    )
    return [(names.get(r["community"], r["community"]), r["n"]) for r in rows]


def my_grids(user: Any) -> list[GridAssignment]:
    """The grids the user is currently responsible for (grid workers, police, leaders)."""
    today = timezone.localdate()
    return list(
        GridAssignment.objects.filter(user=user, valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .select_related("grid", "grid__parent")
        .order_by("grid__path")
    )


def my_roles(user: Any) -> list[Role]:
    return list(Role.objects.filter(users__pk=user.pk).order_by("code"))
