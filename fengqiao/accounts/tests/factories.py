"""Plain factory functions: a tiny region tree with units, staff, grid duty, households,
residents and audit events (rows saved directly, without services), and role helpers.

The tree: 1 county (440305), 2 streets (440305001, 440305002), 2 communities each
(4403050s100c), 2 grids each (4403050s00c00g). Keys used in the scope tests:

- regions by path; units by code ("U-<path>" centres, "D-440305" a district department);
- users: c440305 (district centre), d440305 (department), s1/s2 (street centres),
  c11 c12 c21 c22 (community centres), gw11 (community 11, grid worker), gw21
  (community 21), root (superuser without unit);
- grid duty "<user>@<grid path>": gw11 current on g111, expired on g112, future on g121;
  gw21 current on g211;
- households "H<grid>", residents "R<grid>", one each per grid;
- audit events: "ev-<grid>" per grid (no actor), "ev-street1" (440305001, by c21),
  "ev-county" (440305, by s1), "ev-s1-login" and "ev-gw11-login" (no path).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Permission
from django.utils import timezone

from fengqiao.accounts.models import Role, User
from fengqiao.audit.models import AuditEvent
from fengqiao.core.scope import DataScope
from fengqiao.regions.models import Level, Region
from fengqiao.registry.models import Household, Resident
from fengqiao.units.models import GridAssignment, GridRole, Unit, UnitKind

COUNTY = "440305"
STREETS = ("440305001", "440305002")
COMMUNITIES = ("440305001001", "440305001002", "440305002001", "440305002002")
GRIDS = tuple(f"{c}00{g}" for c in COMMUNITIES for g in (1, 2))
PASSWORD = "Fq-test-pass-2024"

#: the view permission of every scoped model, by short name
MODEL_PERMS = {
    "region": "regions.view_region",
    "unit": "units.view_unit",
    "user": "accounts.view_user",
    "gridassignment": "units.view_gridassignment",
    "household": "registry.view_household",
    "resident": "registry.view_resident",
    "auditevent": "audit.view_auditevent",
}


def g(street: int, community: int, grid: int) -> str:
    """Grid path: g(1, 1, 1) == "440305001001001"."""
    return f"{COUNTY}{street:03d}{community:03d}{grid:03d}"


@dataclass
class World:
    regions: dict[str, Region] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    assignments: dict[str, GridAssignment] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    residents: dict[str, Resident] = field(default_factory=dict)
    events: dict[str, AuditEvent] = field(default_factory=dict)


def make_region(path: str, name: str, level: int, parent: Region | None) -> Region:
    code = path.ljust(12, "0") if len(path) <= 12 else path
    return Region.objects.create(code=code, name=name, level=level, parent=parent, path=path)


def make_unit(code: str, name: str, region: Region, kind: str = UnitKind.CENTRE, parent: Unit | None = None) -> Unit:
    return Unit.objects.create(code=code, name=name, kind=kind, region=region, parent=parent, region_path=region.path)


def make_user(username: str, unit: Unit | None, **extra: Any) -> User:
    return User.objects.create_user(
        username=username, password=PASSWORD, unit=unit, display_name=extra.pop("display_name", username), **extra
    )


def make_role(
    code: str,
    perms: list[str] | tuple[str, ...],
    scope: str = DataScope.ALL,
    custom_units: list[Unit] | tuple[Unit, ...] = (),
    **extra: Any,
) -> Role:
    role = Role.objects.create(code=code, name=extra.pop("name", code), data_scope=scope, **extra)
    role.permissions.set(permissions(perms))
    role.custom_units.set(custom_units)
    return role


def permissions(names: list[str] | tuple[str, ...]) -> list[Permission]:
    result = []
    for name in names:
        app_label, codename = name.split(".", 1)
        result.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return result


def grant(user: User, *roles: Role) -> User:
    """Give ``user`` the roles and return a fresh instance (empty grant cache, unit loaded)."""
    user.roles.add(*roles)
    return User.objects.select_related("unit").get(pk=user.pk)


def build_world() -> World:
    w = World()
    today = timezone.localdate()
    county = make_region(COUNTY, "南山区", Level.COUNTY, None)
    w.regions[COUNTY] = county
    for s, street_path in enumerate(STREETS, start=1):
        street = make_region(street_path, f"街道{s}", Level.STREET, county)
        w.regions[street_path] = street
        for c in (1, 2):
            community_path = f"{street_path}{c:03d}"
            community = make_region(community_path, f"社区{s}{c}", Level.COMMUNITY, street)
            w.regions[community_path] = community
            for gi in (1, 2):
                grid_path = g(s, c, gi)
                w.regions[grid_path] = make_region(grid_path, f"网格{s}{c}{gi}", Level.GRID, community)

    district = make_unit(f"U-{COUNTY}", "区综治中心", county)
    w.units[district.code] = district
    dept = make_unit(f"D-{COUNTY}", "区住建局", county, kind=UnitKind.DEPARTMENT)
    w.units[dept.code] = dept
    for s, street_path in enumerate(STREETS, start=1):
        su = make_unit(f"U-{street_path}", f"街道{s}综治中心", w.regions[street_path], parent=district)
        w.units[su.code] = su
        for c in (1, 2):
            cp = f"{street_path}{c:03d}"
            cu = make_unit(f"U-{cp}", f"社区{s}{c}综治中心", w.regions[cp], parent=su)
            w.units[cu.code] = cu

    unit_of = {
        "c440305": f"U-{COUNTY}",
        "d440305": f"D-{COUNTY}",
        "s1": f"U-{STREETS[0]}",
        "s2": f"U-{STREETS[1]}",
        "c11": f"U-{COMMUNITIES[0]}",
        "c12": f"U-{COMMUNITIES[1]}",
        "c21": f"U-{COMMUNITIES[2]}",
        "c22": f"U-{COMMUNITIES[3]}",
        "gw11": f"U-{COMMUNITIES[0]}",
        "gw21": f"U-{COMMUNITIES[2]}",
    }
    for username, unit_code in unit_of.items():
        w.users[username] = make_user(username, w.units[unit_code])
    w.users["root"] = User.objects.create_superuser(username="root", password=PASSWORD)

    day = datetime.timedelta(days=1)
    duty = [
        ("gw11", g(1, 1, 1), today - 30 * day, None),
        ("gw11", g(1, 1, 2), today - 30 * day, today - day),  # expired
        ("gw11", g(1, 2, 1), today + day, None),  # not yet in force
        ("gw21", g(2, 1, 1), today, None),
    ]
    for username, path, start, end in duty:
        w.assignments[f"{username}@{path}"] = GridAssignment.objects.create(
            grid=w.regions[path],
            user=w.users[username],
            role=GridRole.GRID_WORKER,
            region_path=path,
            valid_from=start,
            valid_to=end,
        )

    for path in GRIDS:
        w.households[f"H{path}"] = Household.objects.create(
            number=f"H{path}", grid=w.regions[path], region_path=path, address=f"{path}号"
        )
        w.residents[f"R{path}"] = Resident.objects.create(
            grid=w.regions[path], region_path=path, name=f"居民{path[-4:]}", household=w.households[f"H{path}"]
        )

    now = timezone.now()
    events: list[tuple[str, str, User | None]] = [(f"ev-{path}", path, None) for path in GRIDS]
    events += [
        ("ev-street1", STREETS[0], w.users["c21"]),
        ("ev-county", COUNTY, w.users["s1"]),
        ("ev-s1-login", "", w.users["s1"]),
        ("ev-gw11-login", "", w.users["gw11"]),
    ]
    for action, path, actor in events:
        w.events[action] = AuditEvent.objects.create(
            at=now, action=action, region_path=path, actor=actor, actor_name=str(actor or "")
        )
    return w
