"""Plain factory functions for unit tests."""

from __future__ import annotations

from fengqiao.regions.models import Region
from fengqiao.units.models import Unit, UnitKind


def unit(code: str, name: str, region: Region, kind: str = UnitKind.CENTRE, parent: Unit | None = None) -> Unit:
    """A unit saved directly (no service rules), for building fixtures."""
    return Unit.objects.create(code=code, name=name, kind=kind, region=region, region_path=region.path, parent=parent)
