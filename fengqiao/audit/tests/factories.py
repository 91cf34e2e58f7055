"""Plain factory functions for the audit and system tests."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth.models import Permission

from fengqiao.accounts.models import Role, User
from fengqiao.core.scope import DataScope
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit, UnitKind

_seq = itertools.count(1)


def make_unit(path: str = "440305001", name: str = "") -> Unit:
    n = next(_seq)
    level = {6: Level.COUNTY, 9: Level.STREET, 12: Level.COMMUNITY}[len(path)]
    region = Region.objects.filter(path=path).first() or Region.objects.create(
        code=path.ljust(12, "0"), name=f"Region {path}", level=level, path=path
    )
    return Unit.objects.create(
        name=name or f"Unit {n}", code=f"U{n:05d}", kind=UnitKind.CENTRE, region=region, region_path=path
    )


def make_user(
    perms: list[str] | tuple[str, ...] = (),
    scope: str = DataScope.ALL,
    unit: Unit | None = None,
    username: str = "",
    **extra: Any,
) -> User:
    n = next(_seq)
    user = User.objects.create_user(username=username or f"user{n}", password="pw-long-enough-123", unit=unit, **extra)
    if perms:
        role = Role.objects.create(code=f"role-{n}", name=f"Role {n}", data_scope=scope)
        for perm in perms:
            app_label, codename = perm.split(".", 1)
            role.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        user.roles.add(role)
    return User.objects.get(pk=user.pk)  # fresh instance: no cached permissions
