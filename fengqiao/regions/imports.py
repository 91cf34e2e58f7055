"""All-or-nothing import of streets, communities and grids from Excel or GeoJSON.

Every row (or feature) is checked against the same rules as ``create_region``
— level under the parent's level, code extending the parent's path, no
duplicate, valid boundary, grids not overlapping each other (in the database
or in the same file) and lying within their community — and every problem is
collected with its row and column (feature and property). Nothing is written
unless there are none; then one transaction writes parents before children.

A row whose code already exists (current, same level and parent) updates that
region's name, start date and, when given, its boundary; so a GeoJSON file of
grid boundaries can be loaded onto grids created earlier from Excel.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from fengqiao.audit.services import record
from fengqiao.core.excel import Column, read_sheet

from . import geometry
from .models import Level, Region
from .rules import code_problems, level_problems, normalise_code, parse_level, path_for
from .services import current_grids_in_county, region_snapshot

MAX_FEATURES = 50_000
FIELDS = ("code", "name", "level", "parent_code", "valid_from", "boundary")

XLSX_COLUMNS = [
    Column("code", ("编码", "代码", "code", "区划代码"), parse=normalise_code),
    Column("name", ("名称", "name")),
    Column("level", ("层级", "级别", "level"), parse=parse_level),
    Column("parent_code", ("上级编码", "上级代码", "parent code", "parent_code"), parse=normalise_code),
    Column("valid_from", ("启用日期", "valid from", "valid_from", "启用时间"), required=False),
    Column("boundary", ("边界", "boundary", "边界(GeoJSON)", "boundary (GeoJSON)"), required=False),
]
#: the Excel template offered for download (header row)
XLSX_TEMPLATE_HEADERS = ["编码", "名称", "层级", "上级编码", "启用日期", "边界"]


def parse_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)) and float(value).is_integer() and 1900 <= int(value) <= 2100:
        return datetime.date(int(value), 1, 1)
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d"):
        try:
            return datetime.datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError:
            continue
    if text.isdigit() and len(text) == 4:
        return datetime.date(int(text), 1, 1)
    raise ValueError(_("“%(value)s” is not a date; write it as 2024-01-31.") % {"value": value})


@dataclass(frozen=True)
class ImportProblem:
    """One problem, located by sheet row and column, or by feature and property."""

    source: str  # "xlsx" or "geojson"
    number: int  # 1-based sheet row or feature number; 0 for the whole file
    column: str  # column letter (xlsx) or property name (geojson); "" for the whole row/feature
    header: str  # the column's header as found in the sheet (xlsx)
    message: str

    @property
    def location(self) -> str:
        if not self.number:
            return _("file")
        if self.source == "xlsx":
            return _("row %(row)s") % {"row": self.number}
        return _("feature %(n)s") % {"n": self.number}

    @property
    def column_label(self) -> str:
        if not self.column:
            return ""
        if self.source == "xlsx":
            return _("column %(column)s (%(header)s)") % {"column": self.column, "header": self.header}
        if self.column == "geometry":
            return _("geometry")
        return _("property “%(name)s”") % {"name": self.column}

    def __str__(self) -> str:
        where = self.location
        if self.column_label:
            where += ", " + self.column_label
        return f"{where}: {self.message}"


@dataclass
class RegionImportResult:
    source: str
    created: int = 0
    updated: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    failed: set[str] = field(default_factory=set)
    boundary: geometry.Boundary | None = None
    existing: Region | None = None
    parent_row: _Row | None = None
    db_parent: Region | None = None

    @property
    def code(self) -> str:
        return str(self.values.get("code") or "")

    @property
    def level(self) -> int | None:
        value = self.values.get("level")
        return int(value) if value is not None and "level" not in self.failed else None

    @property
    def parent_code(self) -> str:
        return str(self.values.get("parent_code") or "")

    @property
    def usable(self) -> bool:
        return not ({"code", "level"} & self.failed) and bool(self.code) and self.level is not None


class _Report:
    def __init__(self, source: str, locate: Callable[[str], tuple[str, str]]) -> None:
        self.source = source
        self.locate = locate
        self.problems: list[ImportProblem] = []

    def add(self, row: _Row | None, key: str | None, message: str) -> None:
        column, header = self.locate(key) if key else ("", "")
        number = row.number if row is not None else 0
        self.problems.append(ImportProblem(self.source, number, column, header, message))
        if row is not None and key:
            row.failed.add(key)


def _where(row: _Row, source: str) -> str:
    return (_("row %(row)s") if source == "xlsx" else _("feature %(row)s")) % {"row": row.number}


def _check(rows: list[_Row], report: _Report, scope: QuerySet[Region] | None) -> list[_Row]:
    """Check every row; returns the rows in write order (parents first)."""
    by_code: dict[str, _Row] = {}
    for row in rows:
        if not row.code or "code" in row.failed:
            continue
        if row.code in by_code:
            report.add(
                row,
                "code",
                _("The code %(code)s appears twice in this file (also %(where)s).")
                % {"code": row.code, "where": _where(by_code[row.code], report.source)},
            )
            continue
        by_code[row.code] = row
    for row in rows:  # every boundary is checked, whatever else is wrong with its row
        raw = row.values.get("boundary")
        if raw not in (None, "", {}) and "boundary" not in row.failed:
            try:
                row.boundary = geometry.parse_boundary(raw)
            except ValidationError as exc:
                for message in exc.messages:
                    report.add(row, "boundary", message)
    usable = [r for r in rows if r.usable and "code" not in r.failed]
    ordered = sorted(usable, key=lambda r: (r.level or 0, r.number))

    paths = [path_for(r.code, r.level) for r in usable if r.level in (Level.STREET, Level.COMMUNITY, Level.GRID)]
    existing = {reg.path: reg for reg in Region.objects.current().filter(path__in=paths).select_related("parent")}
    outside = {r.parent_code for r in usable if r.parent_code and r.parent_code not in by_code}
    db_parents = {reg.code: reg for reg in Region.objects.current().filter(code__in=list(outside))}
    allowed: set[int] | None = None
    if scope is not None:
        ids = {reg.pk for reg in existing.values()} | {reg.pk for reg in db_parents.values()}
        allowed = set(scope.filter(pk__in=ids).values_list("pk", flat=True))

    for row in ordered:
        level = row.level
        if level is None:
            continue
        # the parent: in this file, else in the database
        parent_level: int | None = None
        parent_known = False
        if not row.parent_code:
            if "parent_code" not in row.failed:
                report.add(row, "parent_code", _("The parent code is required."))
        elif row.parent_code in by_code:
            parent = by_code[row.parent_code]
            row.parent_row = parent
            parent_level = parent.level
            parent_known = parent.usable
        elif row.parent_code in db_parents:
            parent_region = db_parents[row.parent_code]
            if allowed is not None and parent_region.pk not in allowed:
                report.add(
                    row,
                    "parent_code",
                    _("You may not add regions under %(parent)s (outside your data scope).")
                    % {"parent": parent_region},
                )
            else:
                row.db_parent = parent_region
                parent_level = parent_region.level
                parent_known = True
                start = row.values.get("valid_from")
                if start and parent_region.valid_from and start < parent_region.valid_from:
                    report.add(
                        row,
                        "valid_from",
                        _("The region cannot start (%(day)s) before its parent does (%(parent_day)s).")
                        % {"day": start.isoformat(), "parent_day": parent_region.valid_from.isoformat()},
                    )
        else:
            report.add(
                row,
                "parent_code",
                _("There is no current region with the code %(code)s, neither in the system nor in this file.")
                % {"code": row.parent_code},
            )
        if parent_known:
            problems = level_problems(level, parent_level)
            for message in problems:
                report.add(row, "level", message)
            if not problems:
                for message in code_problems(row.code, level, row.parent_code, parent_level):
                    report.add(row, "code", message)
        elif level not in (Level.STREET, Level.COMMUNITY, Level.GRID):
            for message in level_problems(level, None):
                report.add(row, "level", message)
        # already there?
        if "code" not in row.failed and level in (Level.STREET, Level.COMMUNITY, Level.GRID):
            current = existing.get(path_for(row.code, level))
            if current is not None:
                parent_code = current.parent.code if current.parent else ""
                if current.code != row.code or current.level != level:
                    report.add(
                        row,
                        "code",
                        _("The code %(code)s clashes with the current region %(region)s.")
                        % {"code": row.code, "region": current},
                    )
                elif row.parent_code and parent_code != row.parent_code:
                    report.add(
                        row,
                        "parent_code",
                        _(
                            "%(region)s already exists under %(parent)s, not under %(wanted)s; "
                            "it cannot be moved by import."
                        )
                        % {"region": current, "parent": parent_code, "wanted": row.parent_code},
                    )
                elif allowed is not None and current.pk not in allowed:
                    report.add(
                        row, "code", _("You may not change %(region)s (outside your data scope).") % {"region": current}
                    )
                else:
                    row.existing = current

    _check_grids(ordered, report)
    return ordered


def _community_geometry(row: _Row) -> tuple[Any, str] | None:
    if row.parent_row is not None:
        parent = row.parent_row
        if parent.boundary is not None:
            return parent.boundary.geometry, f"{parent.values.get('name') or ''} ({parent.code})"
        if parent.existing is not None and "boundary" not in parent.failed:
            geom = geometry.load_stored(parent.existing.boundary)
            return (geom, str(parent.existing)) if geom is not None else None
        return None
    if row.db_parent is not None:
        geom = geometry.load_stored(row.db_parent.boundary)
        return (geom, str(row.db_parent)) if geom is not None else None
    return None


def _check_grids(rows: list[_Row], report: _Report) -> None:
    grids = [
        (r, r.boundary) for r in rows if r.level == Level.GRID and r.boundary is not None and "code" not in r.failed
    ]
    if not grids:
        return
    replaced = {r.existing.pk for r in rows if r.existing is not None and r.boundary is not None}
    by_county: dict[str, list[tuple[_Row, geometry.Boundary]]] = defaultdict(list)
    for row, boundary in grids:
        by_county[row.code[:6]].append((row, boundary))
    for county, members in by_county.items():
        index = current_grids_in_county(county, replaced)
        for row, boundary in members:
            others = index.overlapping(boundary.geometry)
            if others:
                report.add(
                    row,
                    "boundary",
                    _(
                        "The grid boundary overlaps the current grid(s) %(grids)s; grids must not overlap. "
                        "Adjust the shared edge."
                    )
                    % {"grids": "、".join(f"{g.name} ({g.code})" for g in others)},
                )
    in_file = geometry.Index((row, boundary.geometry) for row, boundary in grids)
    for row, boundary in grids:
        for other in in_file.overlapping(boundary.geometry):
            if other is row:
                continue
            report.add(
                row,
                "boundary",
                _("The grid boundary overlaps the grid %(code)s in %(where)s of this file; grids must not overlap.")
                % {"code": other.code, "where": _where(other, report.source)},
            )
    for row, boundary in grids:
        container = _community_geometry(row)
        if container is None:
            continue
        share = geometry.outside_share(boundary.geometry, container[0])
        if share > geometry.OUTSIDE_TOLERANCE:
            report.add(
                row,
                "boundary",
                _(
                    "%(pct).1f%% of the grid lies outside its community %(community)s "
                    "(at most %(max).0f%% is tolerated). Draw the grid inside the community's boundary."
                )
                % {"pct": share * 100, "community": container[1], "max": geometry.OUTSIDE_TOLERANCE * 100},
            )


def _write(rows: list[_Row], actor: Any, result: RegionImportResult, filename: str) -> None:
    by_code: dict[str, Region] = {}
    for row in rows:
        values = row.values
        parent = by_code[row.parent_row.code] if row.parent_row is not None else row.db_parent
        if row.existing is not None:
            region = row.existing
            before = region_snapshot(region)
            region.name = str(values.get("name") or region.name).strip()
            if values.get("valid_from"):
                region.valid_from = values["valid_from"]
            if row.boundary is not None:
                region.boundary = row.boundary.data
                region.centroid_lng, region.centroid_lat = row.boundary.centroid
            region.save()
            record("region.import_update", actor=actor, obj=region, before=before, after=region_snapshot(region))
            result.updated += 1
        else:
            region = Region(
                code=row.code,
                name=str(values.get("name") or "").strip(),
                level=row.level or 0,
                parent=parent,
                path=path_for(row.code, row.level or 0),
                valid_from=values.get("valid_from"),
            )
            if row.boundary is not None:
                region.boundary = row.boundary.data
                region.centroid_lng, region.centroid_lat = row.boundary.centroid
            region.save()
            record("region.import_create", actor=actor, obj=region, after=region_snapshot(region))
            result.created += 1
        by_code[row.code] = region
        result.regions.append(region)
    record(
        "region.import",
        actor=actor,
        detail={"file": filename, "format": result.source, "created": result.created, "updated": result.updated},
    )


def _finish(
    rows: list[_Row], report: _Report, *, actor: Any, scope: QuerySet[Region] | None, filename: str
) -> RegionImportResult:
    result = RegionImportResult(source=report.source)
    if not report.problems and not rows:
        report.add(None, None, _("The file contains no regions."))
    ordered = _check(rows, report, scope) if rows else []
    if report.problems:
        result.problems = sorted(report.problems, key=lambda p: (p.number, p.column))
        return result
    _write(ordered, actor, result, filename)
    return result


@transaction.atomic
def import_regions_xlsx(*, actor: Any, file: IO[bytes], scope: QuerySet[Region] | None = None) -> RegionImportResult:
    """Import streets/communities/grids from an .xlsx sheet (编码, 名称, 层级, 上级编码, 启用日期[, 边界])."""
    sheet = read_sheet(file, XLSX_COLUMNS)

    def locate(key: str) -> tuple[str, str]:
        return sheet.positions.get(key, ("", ""))

    report = _Report("xlsx", locate)
    for error in sheet.errors:
        report.problems.append(ImportProblem("xlsx", error.row, error.column, error.header, error.message))
    if sheet.errors and not sheet.rows:
        return RegionImportResult(source="xlsx", problems=report.problems)
    rows: list[_Row] = []
    failed_cells: dict[int, set[str]] = defaultdict(set)
    letters = {letter: key for key, (letter, _header) in sheet.positions.items()}
    for error in sheet.errors:
        if error.column in letters:
            failed_cells[error.row].add(letters[error.column])
    for number, values in zip(sheet.row_numbers, sheet.rows, strict=True):
        row = _Row(number=number, values=dict(values), failed=set(failed_cells.get(number, set())))
        raw_date = values.get("valid_from")
        if raw_date not in (None, ""):
            try:
                row.values["valid_from"] = parse_date(raw_date)
            except ValueError as exc:
                report.add(row, "valid_from", str(exc))
                row.values["valid_from"] = None
        name = values.get("name")
        if name is not None and len(str(name)) > 100:
            report.add(row, "name", _("The name is longer than 100 characters."))
        rows.append(row)
    filename = str(getattr(file, "name", "") or "")
    return _finish(rows, report, actor=actor, scope=scope, filename=filename)


GEOJSON_PROPERTIES = ("code", "name", "level", "parent_code")


def _read_geojson(file: IO[bytes], report: _Report) -> list[_Row]:
    raw = file.read()
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else str(raw)
        data = json.loads(text)
    except UnicodeDecodeError:
        report.add(None, None, _("The file is not UTF-8 text; save the GeoJSON as UTF-8."))
        return []
    except json.JSONDecodeError as exc:
        report.add(
            None,
            None,
            _("The file is not valid JSON (line %(line)s, column %(col)s: %(msg)s).")
            % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg},
        )
        return []
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        report.add(None, None, _("The file must be a GeoJSON FeatureCollection with a “features” list."))
        return []
    features = data["features"]
    if len(features) > MAX_FEATURES:
        report.add(None, None, _("Too many features (at most %(n)s).") % {"n": MAX_FEATURES})
        return []
    rows: list[_Row] = []
    for number, feature in enumerate(features, start=1):
        row = _Row(number=number, values={})
        rows.append(row)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            report.add(row, None, _("This is not a GeoJSON Feature."))
            row.failed.update(FIELDS)
            continue
        props = feature.get("properties")
        if not isinstance(props, dict):
            report.add(row, None, _("The feature has no “properties” object."))
            row.failed.update(FIELDS)
            continue
        for key in GEOJSON_PROPERTIES:
            value = props.get(key)
            if value is None or str(value).strip() == "":
                report.add(row, key, _("The property is required."))
                continue
            try:
                if key in ("code", "parent_code"):
                    row.values[key] = normalise_code(value)
                elif key == "level":
                    row.values[key] = parse_level(value)
                else:
                    row.values[key] = str(value).strip()
            except ValueError as exc:
                report.add(row, key, str(exc))
        for key in ("valid_from",):
            value = props.get(key)
            if value not in (None, ""):
                try:
                    row.values[key] = parse_date(value)
                except ValueError as exc:
                    report.add(row, key, str(exc))
        name = row.values.get("name")
        if name is not None and len(str(name)) > 100:
            report.add(row, "name", _("The name is longer than 100 characters."))
        geom = feature.get("geometry")
        if geom is not None:
            row.values["boundary"] = geom
    return rows


@transaction.atomic
def import_regions_geojson(*, actor: Any, file: IO[bytes], scope: QuerySet[Region] | None = None) -> RegionImportResult:
    """Import from a GeoJSON FeatureCollection (properties code, name, level, parent_code[, valid_from])."""

    def locate(key: str) -> tuple[str, str]:
        return ("geometry" if key == "boundary" else key, "")

    report = _Report("geojson", locate)
    rows = _read_geojson(file, report)
    if report.problems and not rows:
        return RegionImportResult(source="geojson", problems=report.problems)
    filename = str(getattr(file, "name", "") or "")
    return _finish(rows, report, actor=actor, scope=scope, filename=filename)
