"""A tiny place for intake tests: one district, one street centre, one community with two grids,
the default categories, and helpers to post the report form."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from fengqiao.accounts.models import Role, User
from fengqiao.cases.categories import ensure_default_categories
from fengqiao.cases.models import Category
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit, UnitKind

COMMUNITY = "440399001001"
OTHER_COMMUNITY = "440399002001"


def square(x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]]}


def _region(code: str, name: str, level: int, parent: Region | None, boundary: dict[str, Any] | None = None) -> Region:
    from fengqiao.regions.rules import path_for

    return Region.objects.create(
        code=code, name=name, level=level, parent=parent, path=path_for(code, level), boundary=boundary
    )


@dataclass
class Place:
    county: Region
    street: Region
    community: Region
    grids: list[Region]
    other_street: Region
    other_community: Region
    centre: Unit
    other_centre: Unit


def place() -> Place:
    """枫桥示范区 › 枫溪街道 (centre) › 枫溪社区 (two grids); 桥东街道 › 桥东社区 (another centre)."""
    county = _region("440399000000", "枫桥示范区", Level.COUNTY, None, square(113.80, 22.40, 0.3, 0.3))
    street = _region("440399001000", "枫溪街道", Level.STREET, county, square(113.80, 22.40, 0.1, 0.1))
    community = _region(COMMUNITY, "枫溪社区", Level.COMMUNITY, street, square(113.80, 22.40, 0.02, 0.01))
    grids = [
        _region(f"{COMMUNITY}001", "枫溪一网格", Level.GRID, community, square(113.80, 22.40, 0.01, 0.01)),
        _region(f"{COMMUNITY}002", "枫溪二网格", Level.GRID, community, square(113.81, 22.40, 0.01, 0.01)),
    ]
    other_street = _region("440399002000", "桥东街道", Level.STREET, county)
    other_community = _region(OTHER_COMMUNITY, "桥东社区", Level.COMMUNITY, other_street)
    centre = Unit.objects.create(
        code="U-440399001",
        name="枫溪街道综治中心",
        kind=UnitKind.CENTRE,
        region=street,
        region_path=street.path,
        phone="0755-35958100",
    )
    other_centre = Unit.objects.create(
        code="U-440399002",
        name="桥东街道综治中心",
        kind=UnitKind.CENTRE,
        region=other_street,
        region_path=other_street.path,
    )
    ensure_default_categories()
    return Place(county, street, community, grids, other_street, other_community, centre, other_centre)


def staff(
    username: str, perms: list[str], *, unit: Unit | None = None, scope: str = "unit_and_below", **extra: Any
) -> User:
    user = User.objects.create_user(username=username, password="pw-123456789", unit=unit, **extra)
    if perms:
        role = Role.objects.create(code=f"r-{username}", name=f"role {username}", data_scope=scope)
        for perm in perms:
            app_label, codename = perm.split(".")
            role.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        user.roles.add(role)
    return User.objects.select_related("unit").get(pk=user.pk)


def category(code: str) -> Category:
    return Category.objects.get(code=code, district__isnull=True)


def photo(name: str = "p.jpg", size: tuple[int, int] = (40, 30), fmt: str = "JPEG") -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, fmt)
    return SimpleUploadedFile(name, buf.getvalue(), content_type=f"image/{fmt.lower()}")


KEY_RE = re.compile(r'name="idempotency_key" value="([^"]+)"')


def find(pattern: str, html: str) -> str:
    """The first group of ``pattern`` in ``html`` (the test fails when it is missing)."""
    match = re.search(pattern, html, re.S)
    assert match is not None, pattern
    return match.group(1)


def form_key(client: Client, code: str = COMMUNITY) -> str:
    """Open the report form and return its hidden idempotency key."""
    response = client.get(f"/r/{code}/")
    assert response.status_code == 200
    match = KEY_RE.search(response.content.decode())
    assert match is not None
    return match.group(1)


def report_data(key: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "idempotency_key": key,
        "category": str(category("environment").pk),
        "description": "楼道里堆满了杂物，影响通行",
        "address": "3栋2单元楼道",
        "lng": "",
        "lat": "",
        "reporter_name": "李小梅",
        "reporter_phone": "13800138000",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
