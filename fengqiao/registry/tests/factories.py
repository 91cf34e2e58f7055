"""Plain-function factories for registry tests: a tiny region tree, units, staff with roles, ID numbers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.contrib.auth.models import Permission

from fengqiao.accounts.models import Role, User
from fengqiao.core.scope import DataScope
from fengqiao.regions.models import Level, Region
from fengqiao.registry.models import Household, Resident
from fengqiao.units.models import Unit, UnitKind

_seq = itertools.count(1)

ID_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character (GB 11643), computed independently of python-stdnum."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def make_id(region: str = "110105", birth: str = "19900307", seq: int = 123) -> str:
    """A well-formed, made-up resident ID number (odd ``seq`` = male)."""
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + id_check_char(first17)


def region(code: str, name: str, level: int, parent: Region | None = None) -> Region:
    widths = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12, 6: 15}
    return Region.objects.create(code=code, name=name, level=level, parent=parent, path=code[: widths[level]])


@dataclass
class Tree:
    county: Region
    street: Region
    other_street: Region
    community: Region
    community2: Region
    grid: Region
    grid2: Region
    other_grid: Region


def make_tree() -> Tree:
    """County 440399 › streets 001 and 002 › communities › grids (15-digit codes)."""
    county = region("440399000000", "测试区", Level.COUNTY)
    street = region("440399001000", "东街道", Level.STREET, county)
    other_street = region("440399002000", "西街道", Level.STREET, county)
    community = region("440399001001", "花园社区", Level.COMMUNITY, street)
    community2 = region("440399001002", "河畔社区", Level.COMMUNITY, street)
    other_community = region("440399002001", "山前社区", Level.COMMUNITY, other_street)
    grid = region("440399001001001", "花园一网格", Level.GRID, community)
    grid2 = region("440399001002001", "河畔一网格", Level.GRID, community2)
    other_grid = region("440399002001001", "山前一网格", Level.GRID, other_community)
    return Tree(county, street, other_street, community, community2, grid, grid2, other_grid)


def make_unit(at: Region, name: str = "综治中心") -> Unit:
    n = next(_seq)
    return Unit.objects.create(name=f"{name}{n}", code=f"u{n}", kind=UnitKind.CENTRE, region=at, region_path=at.path)


def make_user(
    username: str,
    perms: tuple[str, ...] = (),
    *,
    scope: str = DataScope.UNIT_AND_BELOW,
    unit: Unit | None = None,
) -> User:
    user = User.objects.create_user(username, password="x-test-only-1", unit=unit)
    if perms:
        role = Role.objects.create(code=f"r{next(_seq)}", name=f"role {username}", data_scope=scope)
        for name in perms:
            app_label, codename = name.split(".")
            role.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        user.roles.add(role)
    return User.objects.select_related("unit").get(pk=user.pk)


REGISTRY_ALL = (
    "registry.view_resident",
    "registry.add_resident",
    "registry.change_resident",
    "registry.reveal_resident",
    "registry.view_household",
    "registry.add_household",
    "registry.change_household",
)
REGISTRY_VIEW = ("registry.view_resident", "registry.view_household")


def make_resident(grid: Region, name: str = "张三", id_number: str = "", phone: str = "", **kwargs: object) -> Resident:
    """A resident saved directly (bypassing services), for read-side tests."""
    resident = Resident(grid=grid, region_path=grid.path, name=name, id_number=id_number, phone=phone, **kwargs)
    resident.save()
    return resident


def make_household(grid: Region, number: str = "", address: str = "花园路1号") -> Household:
    household = Household(number=number or f"H{next(_seq):06d}", grid=grid, region_path=grid.path, address=address)
    household.save()
    return household
