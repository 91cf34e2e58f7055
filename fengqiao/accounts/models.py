"""Staff users, roles (permissions + a data scope) and their resolution into grants."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser, Permission, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.scope import DataScope, Grant, RestrictedQuerySet, ScopeSpec


class Role(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    permissions = models.ManyToManyField(Permission, verbose_name=_("permissions"), blank=True, related_name="+")
    data_scope = models.CharField(
        _("data scope"), max_length=20, choices=DataScope.choices, default=DataScope.UNIT_AND_BELOW
    )
    custom_units = models.ManyToManyField(
        "units.Unit", verbose_name=_("units (custom scope)"), blank=True, related_name="+"
    )
    is_builtin = models.BooleanField(_("built in"), default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    scope_spec = ScopeSpec(region_path=None)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class StaffUserManager(UserManager["User"]):
    def get_queryset(self) -> RestrictedQuerySet[User]:
        return RestrictedQuerySet(self.model, using=self._db)

    def restrict(self, user: object, action: str = "view") -> RestrictedQuerySet[User]:
        return self.get_queryset().restrict(user, action)


class User(AbstractUser):
    display_name = models.CharField(_("name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    unit = models.ForeignKey(
        "units.Unit", verbose_name=_("unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    roles = models.ManyToManyField(Role, verbose_name=_("roles"), blank=True, related_name="users")

    objects: ClassVar[StaffUserManager] = StaffUserManager()
    scope_spec = ScopeSpec(region_path="unit__region_path", unit="unit", owner="pk")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    # --- permission resolution (cached per instance, i.e. per request) ---

    def _role_rows(self) -> list[tuple[str, frozenset[str], tuple[tuple[int, str], ...]]]:
        cache = getattr(self, "_fq_role_rows", None)
        if cache is not None:
            return cache
        rows = []
        roles = self.roles.prefetch_related("permissions__content_type", "custom_units")
        for role in roles:
            perms = frozenset(f"{p.content_type.app_label}.{p.codename}" for p in role.permissions.all())
            custom = tuple((u.pk, u.region_path) for u in role.custom_units.all())
            rows.append((role.data_scope, perms, custom))
        self._fq_role_rows = rows
        return rows

    def get_grants(self, perm: str) -> list[Grant]:
        if not self.is_active:
            return []
        rows = [row for row in self._role_rows() if perm in row[1]]
        if not rows:
            return []
        unit_path = None
        if self.unit_id is not None:
            unit_path = self.unit.region_path if self.unit else None
        grid_paths: tuple[str, ...] = ()
        if any(scope == DataScope.GRIDS for scope, _p, _c in rows):
            grid_paths = self._grid_paths()
        return [
            Grant(
                scope=scope,
                user_id=self.pk,
                unit_id=self.unit_id,
                unit_path=unit_path,
                custom=custom,
                grid_paths=grid_paths,
            )
            for scope, _perms, custom in rows
        ]

    def _grid_paths(self) -> tuple[str, ...]:
        cache = getattr(self, "_fq_grid_paths", None)
        if cache is None:
            from django.db.models import Q
            from django.utils import timezone

            today = timezone.localdate()
            cache = tuple(
                self.grid_assignments.filter(valid_from__lte=today)
                .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
                .values_list("region_path", flat=True)
            )
            self._fq_grid_paths = cache
        return cache

    def role_permissions(self) -> set[str]:
        result: set[str] = set()
        for _scope, perms, _custom in self._role_rows():
            result |= perms
        return result
