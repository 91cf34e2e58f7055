"""Reads for accounts: always through ``restrict`` (the actor's data scope)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from fengqiao.core.scope import RestrictedQuerySet, ScopeSpec, scope_q
from fengqiao.units.models import GridAssignment, Unit

from .models import Role, User

# A unit seen through the User model's scope: "may I have users in this unit?"
UNIT_AS_USER_SCOPE = ScopeSpec(region_path="region_path", unit="pk", owner=None)


def units_for_users(actor: Any, action: str = "view") -> QuerySet[Unit]:
    """Units whose members fall inside ``actor``'s ``accounts.<action>_user`` scope."""
    q = scope_q(actor, f"accounts.{action}_user", UNIT_AS_USER_SCOPE)
    if q is None:
        return Unit.objects.none()
    return Unit.objects.filter(q).order_by("region_path", "name")


def user_list(
    actor: Any,
    *,
    q: str = "",
    unit: Unit | None = None,
    role: Role | None = None,
    active: bool | None = None,
) -> RestrictedQuerySet[User]:
    qs = (
        User.objects.restrict(actor, "view")
        .select_related("unit")
        .prefetch_related(Prefetch("roles", queryset=Role.objects.order_by("code")))
        .order_by("unit__region_path", "username")
    )
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
    if unit is not None:
        qs = qs.filter(unit=unit)
    if role is not None:
        qs = qs.filter(roles=role)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def user_detail_queryset(actor: Any, action: str = "view") -> RestrictedQuerySet[User]:
    return User.objects.restrict(actor, action).select_related("unit", "unit__region")


def grid_duties(actor: Any, user: User) -> QuerySet[GridAssignment]:
    return GridAssignment.objects.restrict(actor, "view").filter(user=user).select_related("grid")


def role_list(actor: Any, *, q: str = "") -> RestrictedQuerySet[Role]:
    # holders are counted within the actor's own scope only
    visible_users = User.objects.restrict(actor, "view").values("pk")
    qs: RestrictedQuerySet[Role] = Role.objects.restrict(actor, "view").annotate(
        user_count=Count("users", filter=Q(users__in=visible_users), distinct=True),
        permission_count=Count("permissions", distinct=True),
    )
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    return qs.order_by("-is_builtin", "code")


def role_detail_queryset(actor: Any, action: str = "view") -> RestrictedQuerySet[Role]:
    return Role.objects.restrict(actor, action)


def role_permission_names(role: Role) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.select_related("content_type")}


def visible_holders(actor: Any, role: Role) -> int:
    """How many holders of ``role`` the actor can see (the total may be larger)."""
    return User.objects.restrict(actor, "view").filter(roles=role).count()
