"""Plain factory functions for region tests (and for other apps' tests that need a small tree)."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import Permission

from fengqiao.regions.models import Level, Region


def square(x: float, y: float, size: float = 0.01) -> dict[str, Any]:
    """A GeoJSON square polygon with its south-west corner at (x, y) in degrees."""
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]],
    }


def region(
    code: str,
    name: str,
    level: int,
    parent: Region | None = None,
    boundary: dict[str, Any] | None = None,
    valid_from: datetime.date | None = None,
) -> Region:
    """A region saved directly (no service rules), for building fixtures."""
    from fengqiao.regions.rules import path_for

    return Region.objects.create(
        code=code,
        name=name,
        level=level,
        parent=parent,
        path=path_for(code, level),
        boundary=boundary,
        valid_from=valid_from,
    )


def tree() -> dict[str, Any]:
    """广东省 > 深圳市 > 南山区 > 粤海街道 > 科技园社区 (with a boundary), plus 沙河街道."""
    province = region("440000000000", "广东省", Level.PROVINCE)
    prefecture = region("440300000000", "深圳市", Level.PREFECTURE, province)
    county = region("440305000000", "南山区", Level.COUNTY, prefecture)
    street = region("440305001000", "粤海街道", Level.STREET, county, boundary=square(113.90, 22.50, 0.1))
    street2 = region("440305002000", "沙河街道", Level.STREET, county)
    community = region("440305001001", "科技园社区", Level.COMMUNITY, street, boundary=square(113.93, 22.53, 0.03))
    community2 = region("440305001002", "高新社区", Level.COMMUNITY, street)
    return {
        "province": province,
        "prefecture": prefecture,
        "county": county,
        "street": street,
        "street2": street2,
        "community": community,
        "community2": community2,
    }


def ancestors(region: Region | None) -> list[str]:
    """The codes above ``region``, nearest first (for asserting parent links)."""
    codes: list[str] = []
    node = region.parent if region is not None else None
    while node is not None:
        codes.append(node.code)
        node = node.parent
    return codes


def rows_of(response: Any) -> list[tuple[Any, ...]]:
    """The data rows (below the header) of an .xlsx download."""
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    ws = wb.active
    assert ws is not None
    return [tuple(row) for row in ws.iter_rows(min_row=2, values_only=True)]


def staff(
    username: str,
    perms: list[str],
    *,
    scope: str = "all",
    unit: Any = None,
    superuser: bool = False,
) -> Any:
    """A staff user with one role granting ``perms`` ("app.codename") under ``scope``."""
    from fengqiao.accounts.models import Role, User

    user = User.objects.create_user(
        username=username, password="pw-123456789", unit=unit, is_superuser=superuser, is_staff=True
    )
    if perms:
        role = Role.objects.create(code=f"r-{username}", name=f"role {username}", data_scope=scope)
        for perm in perms:
            app_label, codename = perm.split(".")
            role.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        user.roles.add(role)
    return user
