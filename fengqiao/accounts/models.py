"""Staff users, roles (permissions + a data scope) and their resolution into grants."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

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
    #: for built-in roles: the permissions the last ``sync_roles`` installed,
    #: so that a later sync adds what roles.py added and removes what it removed
    #: while keeping an administrator's own edits
    synced_permissions = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    # Roles are reference data, not tied to a place: whoever may view roles sees them all.
    scope_spec = ScopeSpec(region_path=None, shared=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["code"]

    def __str__(self) -> str:
        if self.is_builtin:
            from .roles import builtin_name

            label = builtin_name(self.code)
            if label:
                return label
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
    #
    # At most two queries per instance: (1) the user's roles with their
    # permissions, one row per (role, permission); (2) only when needed, in one
    # UNION: the unit's region path (if the unit was not loaded with the user),
    # the custom units of "custom" roles and the current grid assignments of
    # "grids" roles. The auth backend loads request.user with its unit.

    def clear_grant_cache(self) -> None:
        for attr in ("_fq_role_rows", "_fq_unit_path", "_fq_grid_paths"):
            self.__dict__.pop(attr, None)

    def _role_rows(self) -> list[RoleRow]:
        cache: list[RoleRow] | None = self.__dict__.get("_fq_role_rows")
        if cache is not None:
            return cache
        if self.pk is None or not self.is_active:
            self._fq_role_rows: list[RoleRow] = []
            return self._fq_role_rows
        scopes: dict[int, str] = {}
        perms: dict[int, set[str]] = {}
        for role_id, scope, app_label, codename in self.roles.order_by().values_list(
            "pk", "data_scope", "permissions__content_type__app_label", "permissions__codename"
        ):
            scopes[role_id] = scope
            bucket = perms.setdefault(role_id, set())
            if codename:
                bucket.add(f"{app_label}.{codename}")
        self._load_paths(
            custom_role_ids=[rid for rid, scope in scopes.items() if scope == DataScope.CUSTOM],
            need_grids=any(scope == DataScope.GRIDS for scope in scopes.values()),
            need_unit=any(scope in UNIT_PATH_SCOPES for scope in scopes.values()),
        )
        custom_paths: dict[int, list[tuple[int, str]]] = self.__dict__.get("_fq_custom", {})
        rows = [
            RoleRow(scopes[rid], frozenset(perms[rid]), tuple(sorted(custom_paths.get(rid, []))), rid)
            for rid in sorted(scopes)
        ]
        self._fq_role_rows = rows
        return rows

    def _load_paths(self, *, custom_role_ids: list[int], need_grids: bool, need_unit: bool) -> None:
        """Second (and last) query: unit path, custom units and grid paths, as one UNION."""
        from django.db.models import CharField, IntegerField, Q, Value

        from fengqiao.units.models import GridAssignment, Unit

        parts: list[models.QuerySet[Any, Any]] = []
        unit_known = "_fq_unit_path" in self.__dict__
        if not unit_known and self.unit_id is not None and "unit" in self._state.fields_cache:
            self._fq_unit_path: str | None = self.unit.region_path if self.unit else None
            unit_known = True
        if self.unit_id is None:
            self._fq_unit_path = None
            unit_known = True
        if need_unit and not unit_known:
            parts.append(
                Unit.objects.filter(pk=self.unit_id or 0)
                .order_by()
                .values_list(
                    Value("u", output_field=CharField()), Value(0, output_field=IntegerField()), "pk", "region_path"
                )
            )
        if custom_role_ids:
            through = Role.custom_units.through
            parts.append(
                through.objects.filter(role_id__in=custom_role_ids)
                .order_by()
                .values_list(Value("c", output_field=CharField()), "role_id", "unit_id", "unit__region_path")
            )
        if need_grids:
            from django.utils import timezone

            today = timezone.localdate()
            parts.append(
                GridAssignment.objects.filter(user_id=self.pk, valid_from__lte=today)
                .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
                .order_by()
                .values_list(
                    Value("g", output_field=CharField()),
                    Value(0, output_field=IntegerField()),
                    Value(0, output_field=IntegerField()),
                    "region_path",
                )
            )
        custom: dict[int, list[tuple[int, str]]] = {}
        grids: list[str] = []
        if parts:
            query = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
            for kind, role_id, obj_id, path in query:
                if kind == "u":
                    self._fq_unit_path = path
                elif kind == "c":
                    custom.setdefault(role_id, []).append((obj_id, path))
                else:
                    grids.append(path)
        self._fq_custom = custom
        self._fq_grid_paths: tuple[str, ...] = tuple(sorted(set(grids)))

    def _unit_path(self) -> str | None:
        if "_fq_unit_path" not in self.__dict__:
            self._fq_unit_path = self.unit.region_path if self.unit_id is not None and self.unit else None
        return self._fq_unit_path

    def get_grants(self, perm: str) -> list[Grant]:
        if not self.is_active:
            return []
        rows = [row for row in self._role_rows() if perm in row.permissions]
        if not rows:
            return []
        return build_grants(
            rows,
            user_id=self.pk,
            unit_id=self.unit_id,
            unit_path=self._unit_path(),
            grid_paths=self.__dict__.get("_fq_grid_paths", ()),
        )

    def role_permissions(self) -> set[str]:
        result: set[str] = set()
        for row in self._role_rows():
            result |= row.permissions
        return result


class RoleRow(NamedTuple):
    """What one role contributes: its scope, its permissions and its custom units."""

    scope: str
    permissions: frozenset[str]
    custom: tuple[tuple[int, str], ...]
    role_id: int = 0


#: scopes whose filter needs the user's unit path
UNIT_PATH_SCOPES = frozenset({DataScope.UNIT, DataScope.UNIT_AND_BELOW})


def build_grants(
    rows: list[RoleRow], *, user_id: int, unit_id: int | None, unit_path: str | None, grid_paths: tuple[str, ...]
) -> list[Grant]:
    """One grant per role row, resolved for a user in ``unit_id`` with ``grid_paths``."""
    return [
        Grant(
            scope=row.scope,
            user_id=user_id,
            unit_id=unit_id,
            unit_path=unit_path,
            custom=row.custom,
            grid_paths=grid_paths if row.scope == DataScope.GRIDS else (),
        )
        for row in rows
    ]


class ApiToken(models.Model):
    """A personal API token: the holder acts as ``user`` (same permissions and data scope).

    Only a SHA-256 hash of the token is stored (the token is 256 random bits, so a plain hash
    is enough); the token itself is shown once, when it is created. ``prefix`` (the first
    characters) lets the owner tell tokens apart.
    """

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("starts with"), max_length=12)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key_hash"], name="apitoken_key_hash_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
