"""Boundary polygons: parsing and checking GeoJSON with Shapely 2 (no GDAL).

Boundaries are stored as GeoJSON geometry objects (Polygon or MultiPolygon,
longitude/latitude in degrees) in ``Region.boundary``. Areas here are in
square degrees: they are only compared with each other and with small
tolerances, never shown as km².
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from shapely import STRtree
from shapely.errors import GEOSException, ShapelyError
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

#: intersection area (deg²) above which two grids overlap; ~1 m² at the equator is 8e-11 deg²
OVERLAP_TOLERANCE = 1e-10
#: share of a grid's area that may lie outside its community's boundary (digitising slack)
OUTSIDE_TOLERANCE = 0.01
POLYGON_TYPES = ("Polygon", "MultiPolygon")

T = TypeVar("T")


@dataclass(frozen=True)
class Boundary:
    """A checked boundary: the Shapely geometry and the GeoJSON to store."""

    geometry: BaseGeometry
    data: dict[str, Any]

    @property
    def centroid(self) -> tuple[float, float]:
        point = self.geometry.centroid
        return (round(point.x, 7), round(point.y, 7))


def _as_geojson_object(value: Any) -> dict[str, Any]:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8-sig")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                _("The boundary is not valid JSON (line %(line)s, column %(col)s: %(msg)s).")
                % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}
            ) from exc
    if not isinstance(value, dict):
        raise ValidationError(_("The boundary must be a GeoJSON object with a “type”, e.g. a Polygon."))
    if value.get("type") == "Feature":
        value = value.get("geometry")
        if not isinstance(value, dict):
            raise ValidationError(_("The GeoJSON Feature has no geometry."))
    elif value.get("type") == "FeatureCollection":
        features = value.get("features") or []
        if len(features) != 1 or not isinstance(features[0], dict):
            raise ValidationError(
                _("A boundary must be a single Polygon or MultiPolygon; this FeatureCollection has %(n)s features.")
                % {"n": len(features)}
            )
        return _as_geojson_object(features[0])
    return value


def parse_boundary(value: Any) -> Boundary:
    """Check a boundary given as GeoJSON text, dict, Feature or one-feature collection.

    Raises ValidationError with a message saying what is wrong and how to fix it.
    """
    obj = _as_geojson_object(value)
    kind = obj.get("type")
    if kind not in POLYGON_TYPES:
        raise ValidationError(
            _("The boundary must be a GeoJSON Polygon or MultiPolygon, not “%(type)s”.") % {"type": kind or "?"}
        )
    if "coordinates" not in obj:
        raise ValidationError(_("The GeoJSON %(type)s has no “coordinates”.") % {"type": kind})
    try:
        geometry = shape(obj)
    except (ShapelyError, GEOSException, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ValidationError(
            _(
                "The boundary coordinates cannot be read (%(error)s). Each ring must be a list of "
                "[longitude, latitude] pairs of at least 4 points, the last equal to the first."
            )
            % {"error": exc}
        ) from exc
    if geometry.is_empty:
        raise ValidationError(_("The boundary is empty: it has no coordinates."))
    min_x, min_y, max_x, max_y = geometry.bounds
    if min_x < -180 or max_x > 180 or min_y < -90 or max_y > 90:
        raise ValidationError(
            _(
                "The boundary coordinates are out of range (longitude %(x1).4f…%(x2).4f, latitude %(y1).4f…%(y2).4f). "
                "Coordinates must be [longitude, latitude] in degrees (longitude −180…180, latitude −90…90); "
                "were longitude and latitude swapped, or were projected metres given?"
            )
            % {"x1": min_x, "x2": max_x, "y1": min_y, "y2": max_y}
        )
    if not geometry.is_valid:
        raise ValidationError(
            _(
                "The boundary polygon is not valid: %(reason)s. Fix the shape (for example a ring that crosses "
                "itself or a hole outside its polygon) and try again."
            )
            % {"reason": explain_validity(geometry)}
        )
    if geometry.area <= 0:
        raise ValidationError(_("The boundary has no area; draw a polygon that encloses the region."))
    data = json.loads(json.dumps(mapping(geometry)))
    return Boundary(geometry=geometry, data=data)


def load_stored(data: Any) -> BaseGeometry | None:
    """The geometry of a boundary already in the database (None when absent or unreadable)."""
    if not data:
        return None
    try:
        geometry = shape(data)
    except (ShapelyError, GEOSException, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    return None if geometry.is_empty else geometry


def digest(data: Any) -> dict[str, Any] | None:
    """What the audit log keeps of a boundary: a hash, the area and the size, not the polygon."""
    if not data:
        return None
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    geometry = load_stored(data)
    return {
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "type": data.get("type") if isinstance(data, dict) else None,
        "area_deg2": round(geometry.area, 10) if geometry is not None else None,
        "bytes": len(text),
    }


class Index(Generic[T]):
    """An STRtree over labelled geometries, answering "which of them overlap this one"."""

    def __init__(self, items: Iterable[tuple[T, BaseGeometry]]) -> None:
        pairs = list(items)
        self.labels: list[T] = [label for label, _geom in pairs]
        self.geometries: list[BaseGeometry] = [geom for _label, geom in pairs]
        self.tree = STRtree(self.geometries) if self.geometries else None

    def overlapping(self, geometry: BaseGeometry, tolerance: float = OVERLAP_TOLERANCE) -> list[T]:
        if self.tree is None:
            return []
        found = []
        for i in sorted(int(i) for i in self.tree.query(geometry)):
            other = self.geometries[i]
            try:
                area = geometry.intersection(other).area
            except GEOSException:
                continue
            if area > tolerance:
                found.append(self.labels[i])
        return found


def outside_share(geometry: BaseGeometry, container: BaseGeometry) -> float:
    """The share (0…1) of ``geometry``'s area that lies outside ``container``."""
    if geometry.area <= 0:
        return 0.0
    try:
        return float(geometry.difference(container).area / geometry.area)
    except GEOSException:
        return 0.0


def feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def collection(features: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}
