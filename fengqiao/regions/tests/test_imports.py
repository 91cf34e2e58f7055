from __future__ import annotations

import datetime
import io
import json
from typing import Any

import pytest
from openpyxl import Workbook

from fengqiao.audit.models import AuditEvent
from fengqiao.regions.imports import import_regions_geojson, import_regions_xlsx
from fengqiao.regions.models import Level, Region

from .factories import ancestors, square, staff, tree

pytestmark = pytest.mark.django_db

HEADERS = ["编码", "名称", "层级", "上级编码", "启用日期", "边界"]


@pytest.fixture
def t():
    return tree()


@pytest.fixture
def admin():
    return staff("admin", [], superuser=True)


def xlsx(rows: list[list[Any]], headers: list[str] = HEADERS) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "regions.xlsx"
    return buf


def geojson(features: list[dict[str, Any]] | Any) -> io.BytesIO:
    data = features if not isinstance(features, list) else {"type": "FeatureCollection", "features": features}
    buf = io.BytesIO(json.dumps(data, ensure_ascii=False).encode())
    buf.name = "regions.geojson"
    return buf


def feat(code: str, name: str, level: str, parent: str, geometry: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent_code": parent},
        "geometry": geometry,
    }


def messages(result) -> list[str]:
    return [str(p) for p in result.problems]


def counts() -> tuple[int, int]:
    return Region.objects.count(), AuditEvent.objects.filter(action__startswith="region.").count()


def nothing_written(before: tuple[int, int]) -> None:
    assert counts() == before


# --- Excel: the good path ------------------------------------------------------


def test_xlsx_import_children_before_parents_in_file(t, admin):
    rows: list[list[Any]] = [
        # the grid comes first in the file: it must be written after its parents
        ["440305003001001", "第一网格", "网格", "440305003001", None, json.dumps(square(113.80, 22.50))],
        ["440305003001", "南头社区", "社区", "440305003000", datetime.datetime(2024, 1, 1), None],
        [440305003000, "南头街道", "街道", 440305000000, "2023-05-01", None],  # numeric cells
    ]
    result = import_regions_xlsx(actor=admin, file=xlsx(rows))
    assert result.ok, messages(result)
    assert result.created == 3
    grid = Region.objects.get(code="440305003001001")
    assert ancestors(grid)[:3] == ["440305003001", "440305003000", t["county"].code]
    assert grid.path == "440305003001001" and grid.centroid_lng == pytest.approx(113.805)
    community = Region.objects.get(code="440305003001")
    street = Region.objects.get(code="440305003000")
    assert community.valid_from == datetime.date(2024, 1, 1)
    assert street.valid_from == datetime.date(2023, 5, 1)
    assert AuditEvent.objects.filter(action="region.import_create").count() == 3
    summary = AuditEvent.objects.get(action="region.import").detail
    assert summary is not None and summary["created"] == 3


def test_xlsx_english_headers_and_update_existing(t, admin):
    rows = [["440305001001", "科技园社区(新名)", "community", "440305001000", None]]
    result = import_regions_xlsx(actor=admin, file=xlsx(rows, ["code", "name", "level", "parent code", "valid from"]))
    assert result.ok, messages(result)
    assert (result.created, result.updated) == (0, 1)
    t["community"].refresh_from_db()
    assert t["community"].name == "科技园社区(新名)"
    assert t["community"].boundary is not None  # kept: no boundary column


# --- Excel: bad input -----------------------------------------------------------


def test_xlsx_malformed_file(t, admin):
    before = counts()
    buf = io.BytesIO(b"this is not a workbook")
    result = import_regions_xlsx(actor=admin, file=buf)
    assert not result.ok
    assert "Excel" in messages(result)[0]
    nothing_written(before)


def test_xlsx_wrong_columns(t, admin):
    before = counts()
    result = import_regions_xlsx(actor=admin, file=xlsx([["1", "2"]], ["foo", "名称"]))
    assert not result.ok
    text = " ".join(messages(result))
    assert "编码" in text and "层级" in text and "上级编码" in text
    nothing_written(before)


def test_xlsx_every_problem_named_by_row_and_column(t, admin):
    before = counts()
    rows = [
        ["440305003000", "好街道", "街道", "440305000000", None, None],  # row 2: fine on its own
        ["44030500X000", "坏编码", "街道", "440305000000", None, None],  # row 3: not digits
        ["440306004000", "别区的街道", "街道", "440305000000", None, None],  # row 4: does not extend parent
        ["440305005000", "层级错", "网格", "440305000000", None, None],  # row 5: grid under a county
        ["440305006000", "无上级", "街道", "440399000000", None, None],  # row 6: unknown parent
        ["440305007000", "", "县", "440305000000", "not a date", None],  # row 7: name, level, date
        ["440305003000", "重复", "街道", "440305000000", None, None],  # row 8: duplicate of row 2
        ["440305001000", "已存在但上级不同", "街道", "440305000000", None, None],  # row 9: exists → update (ok)
    ]
    result = import_regions_xlsx(actor=admin, file=xlsx(rows))
    assert not result.ok
    text = messages(result)
    joined = "\n".join(text)

    def has(row: int, column: str, fragment: str) -> bool:
        return any(m.startswith(f"row {row}, column {column}") and fragment in m for m in text)

    assert has(3, "A", "digits only"), joined
    assert has(4, "A", "440305"), joined
    assert has(5, "C", "must be placed under"), joined
    assert has(6, "D", "440399000000"), joined
    assert has(7, "B", "required"), joined
    assert has(7, "C", "Unknown level"), joined
    assert has(7, "E", "not a date"), joined
    assert has(8, "A", "appears twice"), joined
    assert not any(m.startswith("row 2,") or m.startswith("row 9,") for m in text), joined
    nothing_written(before)


def test_xlsx_code_not_extending_parent(t, admin):
    before = counts()
    rows = [["440305002001", "错社区", "社区", "440305001000", None, None]]
    result = import_regions_xlsx(actor=admin, file=xlsx(rows))
    assert messages(result) == [
        "row 2, column A (编码): The code “440305002001” must begin with the parent's code digits “440305001” "
        "(the parent is 440305001000)."
    ]
    nothing_written(before)


def test_xlsx_overlapping_polygons_in_same_file_and_with_database(t, admin):
    before_grid = import_regions_xlsx(
        actor=admin,
        file=xlsx([["440305001001001", "已有网格", "网格", "440305001001", None, json.dumps(square(113.94, 22.54))]]),
    )
    assert before_grid.ok
    before = counts()
    rows = [
        ["440305001001002", "甲", "网格", "440305001001", None, json.dumps(square(113.95, 22.54))],
        ["440305001001003", "乙", "网格", "440305001001", None, json.dumps(square(113.955, 22.545))],  # overlaps 甲
        ["440305001001004", "丙", "网格", "440305001001", None, json.dumps(square(113.945, 22.545))],  # overlaps DB
    ]
    result = import_regions_xlsx(actor=admin, file=xlsx(rows))
    text = messages(result)
    joined = "\n".join(text)
    assert any(m.startswith("row 3, column F (边界)") and "row 2" in m for m in text), joined
    assert any(m.startswith("row 2, column F (边界)") and "row 3" in m for m in text), joined
    assert any(m.startswith("row 4, column F (边界)") and "已有网格" in m for m in text), joined
    nothing_written(before)


def test_xlsx_invalid_polygon(t, admin):
    before = counts()
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[113.94, 22.54], [113.95, 22.55], [113.95, 22.54], [113.94, 22.55], [113.94, 22.54]]],
    }
    rows = [
        ["440305001001001", "蝴蝶", "网格", "440305001001", None, json.dumps(bowtie)],
        ["440305001001002", "坏JSON", "网格", "440305001001", None, '{"type": "Polygon", '],
    ]
    result = import_regions_xlsx(actor=admin, file=xlsx(rows))
    text = messages(result)
    assert text[0].startswith("row 2, column F (边界)") and "Self-intersection" in text[0]
    assert text[1].startswith("row 3, column F (边界)") and "not valid JSON" in text[1]
    nothing_written(before)


def test_xlsx_grid_outside_community(t, admin):
    before = counts()
    rows = [["440305001001001", "出界", "网格", "440305001001", None, json.dumps(square(113.99, 22.54))]]
    result = import_regions_xlsx(actor=admin, file=xlsx(rows))
    assert "outside its community" in messages(result)[0]
    nothing_written(before)


def test_xlsx_scope_limits_parents(t, admin):
    before = counts()
    scope = Region.objects.filter(path__under="440305002")  # only 沙河街道
    rows = [["440305001009", "越权社区", "社区", "440305001000", None, None]]
    result = import_regions_xlsx(actor=admin, file=xlsx(rows), scope=scope)
    assert "outside your data scope" in messages(result)[0]
    nothing_written(before)


# --- GeoJSON --------------------------------------------------------------------


def test_geojson_import(t, admin):
    features = [
        feat("440305001001001", "一格", "网格", "440305001001", square(113.94, 22.54)),
        feat("440305001001002", "二格", "grid", "440305001001", square(113.95, 22.54)),
    ]
    result = import_regions_geojson(actor=admin, file=geojson(features))
    assert result.ok, messages(result)
    assert result.created == 2
    assert Region.objects.filter(level=Level.GRID).count() == 2


def test_geojson_sets_boundaries_on_existing_grids(t, admin):
    import_regions_xlsx(actor=admin, file=xlsx([["440305001001001", "一格", "网格", "440305001001", None, None]]))
    result = import_regions_geojson(
        actor=admin, file=geojson([feat("440305001001001", "一格", "网格", "440305001001", square(113.94, 22.54))])
    )
    assert result.ok and result.updated == 1
    boundary = Region.objects.get(code="440305001001001").boundary
    assert boundary is not None and boundary["type"] == "Polygon"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (json.dumps({"type": "Feature"}).encode(), "FeatureCollection"),
        (json.dumps({"type": "FeatureCollection", "features": []}).encode(), "no regions"),
    ],
)
def test_geojson_malformed_file(t, admin, content, fragment):
    before = counts()
    buf = io.BytesIO(content)
    result = import_regions_geojson(actor=admin, file=buf)
    assert not result.ok
    assert messages(result)[0].startswith("file: ") and fragment in messages(result)[0]
    nothing_written(before)


def test_geojson_every_problem_named_by_feature_and_property(t, admin):
    before = counts()
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[113.94, 22.54], [113.95, 22.55], [113.95, 22.54], [113.94, 22.55], [113.94, 22.54]]],
    }
    features = [
        feat("440305001001001", "好", "网格", "440305001001", square(113.94, 22.54)),  # 1
        feat("440305001001002", "叠", "网格", "440305001001", square(113.945, 22.545)),  # 2 overlaps 1
        feat("440305001001003", "蝴蝶", "网格", "440305001001", bowtie),  # 3 invalid
        feat("440305002001003", "错父", "网格", "440305001001", None),  # 4 code not extending parent
        {"type": "Feature", "properties": {"code": "440305001001005", "name": "缺"}, "geometry": None},  # 5
        "not a feature",  # 6
        feat("440305001001007", "点", "网格", "440305001001", {"type": "Point", "coordinates": [113.9, 22.5]}),  # 7
        feat("440305001001008", "坏层级", "格子", "440305001001", bowtie),  # 8
    ]
    result = import_regions_geojson(actor=admin, file=geojson(features))
    text = messages(result)
    joined = "\n".join(text)

    def has(n: int, where: str, fragment: str) -> bool:
        return any(m.startswith(f"feature {n}, {where}") and fragment in m for m in text)

    assert has(2, "geometry", "feature 1"), joined
    assert has(1, "geometry", "feature 2"), joined
    assert has(3, "geometry", "Self-intersection"), joined
    assert has(4, "property “code”", "440305001001"), joined
    assert has(5, "property “level”", "required"), joined
    assert has(5, "property “parent_code”", "required"), joined
    assert any(m.startswith("feature 6:") for m in text), joined
    assert has(7, "geometry", "Polygon or MultiPolygon"), joined
    assert has(8, "property “level”", "Unknown level"), joined
    assert has(8, "geometry", "Self-intersection"), joined  # checked although the level is wrong
    nothing_written(before)
