"""A tiny district for the duplicate, figures and category tests (faster than the demo district).

南山区 (440305) › 粤海街道 (440305001) › 科技园社区 (440305001001, grids …001 and …002),
高新社区 (440305001002, grid …001); 沙河街道 (440305002) › 白石洲社区 (440305002001, grid …001).
A second district 福田区 (440304) with one street, for the per-district taxonomy.
Units: one centre per region node down to the communities. Cases are saved directly
(``make_case``), with every field under the test's control.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from fengqiao.accounts.tests.factories import grant, make_role, make_user
from fengqiao.cases.models import Case, CaseKind, CaseState, Category, Channel, Complexity
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit, UnitKind

TZ = datetime.timezone(datetime.timedelta(hours=8))
_numbers = itertools.count(1)


def at(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime.datetime:
    """An aware datetime in Beijing time."""
    return datetime.datetime(y, m, d, h, mi, tzinfo=TZ)


@dataclass
class World:
    regions: dict[str, Region] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)
    # filled in by the tests that use them
    cases: dict[str, Case] = field(default_factory=dict)
    admin: Any = None
    street1: Any = None
    nobody: Any = None
    nanshan: Any = None
    futian: Any = None
    local: Any = None
    other: Any = None
    district_user: Any = None
    street_user: Any = None


def _region(w: World, path: str, name: str, level: int, parent: str | None) -> Region:
    code = path.ljust(12, "0") if len(path) <= 12 else path
    r = Region.objects.create(code=code, name=name, level=level, parent=w.regions.get(parent or ""), path=path)
    w.regions[path] = r
    return r


def build() -> World:
    w = World()
    _region(w, "440305", "南山区", Level.COUNTY, None)
    _region(w, "440305001", "粤海街道", Level.STREET, "440305")
    _region(w, "440305001001", "科技园社区", Level.COMMUNITY, "440305001")
    _region(w, "440305001001001", "科技园第一网格", Level.GRID, "440305001001")
    _region(w, "440305001001002", "科技园第二网格", Level.GRID, "440305001001")
    _region(w, "440305001002", "高新社区", Level.COMMUNITY, "440305001")
    _region(w, "440305001002001", "高新第一网格", Level.GRID, "440305001002")
    _region(w, "440305002", "沙河街道", Level.STREET, "440305")
    _region(w, "440305002001", "白石洲社区", Level.COMMUNITY, "440305002")
    _region(w, "440305002001001", "白石洲第一网格", Level.GRID, "440305002001")
    _region(w, "440304", "福田区", Level.COUNTY, None)
    _region(w, "440304001", "园岭街道", Level.STREET, "440304")
    for path, name in (
        ("440305", "南山区综治中心"),
        ("440305001", "粤海街道综治中心"),
        ("440305001001", "科技园社区综治中心"),
        ("440305001002", "高新社区综治中心"),
        ("440305002", "沙河街道综治中心"),
        ("440304", "福田区综治中心"),
    ):
        w.units[path] = Unit.objects.create(
            code=f"U-{path}", name=name, kind=UnitKind.CENTRE, region=w.regions[path], region_path=path
        )
    for code, name, kind, complexity in (
        ("hazard", "安全隐患", CaseKind.REPORT, Complexity.SIMPLE),
        ("neighbour", "邻里纠纷", CaseKind.REPORT, Complexity.SIMPLE),
        ("petition", "信访", CaseKind.PETITION, Complexity.GENERAL),
        ("permit", "居住证办理", CaseKind.SERVICE, Complexity.SIMPLE),
    ):
        w.categories[code] = Category.objects.create(
            code=code, name=name, name_en=code.title(), kind=kind, default_complexity=complexity
        )
    return w


def staff(username: str, perms: list[str], unit: Unit | None, scope: str = "unit_and_below") -> Any:
    user = make_user(username, unit)
    role = make_role(f"role-{username}", perms, scope=scope)
    return grant(user, role)


def make_case(
    category: Category,
    place: Region,
    *,
    description: str = "楼道堆放杂物",
    received_at: datetime.datetime | None = None,
    state: str = CaseState.SUBMITTED,
    unit: Unit | None = None,
    **fields: Any,
) -> Case:
    """A case saved directly (no service rules). ``place``: a grid or a community."""
    grid = place if place.level == Level.GRID else None
    community = place.parent if grid is not None else place
    received = received_at or timezone.now() - datetime.timedelta(days=1)
    n = next(_numbers)
    defaults: dict[str, Any] = {
        "number": f"T{n:08d}",
        "kind": category.kind,
        "category": category,
        "channel": Channel.QR,
        "description": description,
        "community": community,
        "grid": grid,
        "region_path": place.path,
        "state": state,
        "triage_unit": unit,
        "unit": unit,
        "complexity": category.default_complexity,
        "received_at": received,
        "clock_started_at": received,
    }
    defaults.update(fields)
    return Case.objects.create(**defaults)
