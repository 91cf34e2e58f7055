from __future__ import annotations

import io
import json
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from fengqiao.audit.models import AuditEvent
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit, UnitKind

from .factories import region, rows_of, square, staff, tree

pytestmark = pytest.mark.django_db

VIEW = ["regions.view_region"]
EDIT = ["regions.view_region", "regions.add_region", "regions.change_region"]


@pytest.fixture
def t():
    regions = tree()
    regions["grid"] = region(
        "440305001001001", "第一网格", Level.GRID, regions["community"], boundary=square(113.94, 22.54)
    )
    regions["street_unit"] = Unit.objects.create(
        code="C-440305002",
        name="沙河街道综治中心",
        kind=UnitKind.CENTRE,
        region=regions["street2"],
        region_path="440305002",
    )
    return regions


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def admin_client(t):
    return client_for(staff("clerk", EDIT, scope="all"))


@pytest.fixture
def street_client(t):
    """A street-centre clerk of 沙河街道: sees only that street and below."""
    return client_for(staff("street", EDIT, scope="unit_and_below", unit=t["street_unit"]))


def test_tree_shows_roots_and_lazy_children(t, admin_client):
    response = admin_client.get(reverse("regions:tree"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "广东省" in html and "440000000000" in html
    assert "科技园社区" not in html  # below the first open level: not loaded yet
    response = admin_client.get(reverse("regions:children", args=[t["street"].pk]))
    html = response.content.decode()
    assert "科技园社区" in html and "高新社区" in html
    assert reverse("regions:children", args=[t["community"].pk]) in html  # expandable (has a grid)


def _open_nodes(html: str) -> list[str]:
    """The names of the nodes rendered open, top first."""
    import re

    return re.findall(r'<details open>\s*<summary>\s*<a href="[^"]+">([^<]+)</a>', html)


def test_tree_opens_down_to_the_first_region_with_several_children(t, admin_client):
    html = admin_client.get(reverse("regions:tree")).content.decode()
    # 广东省 and 深圳市 have one child each; 南山区 has two streets: open, showing them
    assert _open_nodes(html) == ["广东省", "深圳市", "南山区"]
    assert "粤海街道" in html and "沙河街道" in html
    # the open nodes are not fetched again; the closed streets are fetched when opened
    assert reverse("regions:children", args=[t["county"].pk]) not in html
    assert reverse("regions:children", args=[t["street"].pk]) in html


def test_tree_opens_at_the_users_own_region(t):
    """A community clerk (scope: own unit and below) sees the tree open at the community, its grid showing."""
    unit = Unit.objects.create(
        code="C-440305001001",
        name="科技园社区工作站",
        kind=UnitKind.CENTRE,
        region=t["community"],
        region_path="440305001001",
    )
    clerk = client_for(staff("community", VIEW, scope="unit_and_below", unit=unit))
    html = clerk.get(reverse("regions:tree")).content.decode()
    assert _open_nodes(html) == ["科技园社区"]
    assert "第一网格" in html and "粤海街道" not in html and "广东省" not in html


def test_tree_opens_the_path_to_the_own_region_inside_a_wider_scope(t):
    """Someone who sees a whole street (a custom unit) but works in one community: the path to it is open."""
    from fengqiao.accounts.models import Role

    street_centre = Unit.objects.create(
        code="C-440305001", name="粤海街道综治中心", kind=UnitKind.CENTRE, region=t["street"], region_path="440305001"
    )
    unit = Unit.objects.create(
        code="C-440305001001",
        name="科技园社区工作站",
        kind=UnitKind.CENTRE,
        region=t["community"],
        region_path="440305001001",
        parent=street_centre,
    )
    user = staff("wide", VIEW, scope="custom", unit=unit)
    Role.objects.get(code="r-wide").custom_units.add(street_centre)
    html = client_for(user).get(reverse("regions:tree")).content.decode()
    assert _open_nodes(html) == ["粤海街道", "科技园社区"]
    assert "高新社区" in html and "第一网格" in html


def test_tree_with_several_roots_opens_nothing(t):
    region("450000000000", "广西壮族自治区", Level.PROVINCE)
    html = client_for(staff("all", VIEW, scope="all")).get(reverse("regions:tree")).content.decode()
    assert _open_nodes(html) == []
    assert "广西壮族自治区" in html and "深圳市" not in html


def test_tree_of_a_grid_worker_lists_the_grids(t):
    from fengqiao.units.models import GridAssignment, GridRole

    community_unit = Unit.objects.create(
        code="C-440305001001",
        name="科技园社区工作站",
        kind=UnitKind.CENTRE,
        region=t["community"],
        region_path="440305001001",
    )
    worker = staff("worker", VIEW, scope="grids", unit=community_unit)
    GridAssignment.objects.create(
        grid=t["grid"], user=worker, role=GridRole.GRID_WORKER, region_path=t["grid"].path, valid_from=date(2024, 1, 1)
    )
    html = client_for(worker).get(reverse("regions:tree")).content.decode()
    assert "第一网格" in html and ">科技园社区</a>" not in html
    assert _open_nodes(html) == []


def test_tree_search_by_code_and_name(t, admin_client):
    html = admin_client.get(reverse("regions:tree"), {"q": "440305001"}).content.decode()
    assert "粤海街道" in html and "科技园社区" in html and "沙河街道" not in html
    html = admin_client.get(reverse("regions:tree"), {"q": "沙河"}).content.decode()
    assert "沙河街道" in html and "粤海街道" not in html
    partial = admin_client.get(
        reverse("regions:tree"), {"q": "沙河"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="region-results"
    )
    assert "<html" not in partial.content.decode()


def test_scope_limits_the_tree_and_details(t, street_client):
    html = street_client.get(reverse("regions:tree")).content.decode()
    assert "沙河街道" in html
    assert "广东省" not in html and "粤海街道" not in html
    assert street_client.get(reverse("regions:detail", args=[t["street"].pk])).status_code == 404
    assert street_client.get(reverse("regions:geojson", args=[t["community"].pk])).status_code == 404
    assert street_client.get(reverse("regions:children", args=[t["county"].pk])).status_code == 404
    assert street_client.get(reverse("regions:detail", args=[t["street2"].pk])).status_code == 200


def test_without_permission_forbidden(t):
    c = client_for(staff("nobody", []))
    assert c.get(reverse("regions:tree")).status_code == 403
    assert c.get(reverse("regions:detail", args=[t["street"].pk])).status_code == 403
    assert Client().get(reverse("regions:tree")).status_code == 302  # login


def test_detail_and_geojson(t, admin_client):
    response = admin_client.get(reverse("regions:detail", args=[t["street"].pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "vendor/leaflet/leaflet.js" in html and reverse("regions:geojson", args=[t["street"].pk]) in html
    assert "科技园社区" in html
    data = admin_client.get(reverse("regions:geojson", args=[t["street"].pk])).json()
    assert data["type"] == "FeatureCollection"
    roles = [(f["properties"]["role"], f["properties"]["code"]) for f in data["features"]]
    assert ("self", "440305001000") in roles and ("child", "440305001001") in roles
    # the community without a boundary is simply absent
    assert ("child", "440305001002") not in roles


def test_tiles_only_when_configured(t, admin_client, settings):
    settings.FENGQIAO_TILE_URL = ""
    html = admin_client.get(reverse("regions:detail", args=[t["street"].pk])).content.decode()
    assert 'data-tile-url=""' in html
    settings.FENGQIAO_TILE_URL = "https://tiles.example/{z}/{x}/{y}.png"
    settings.FENGQIAO_TILE_ATTRIBUTION = "© Example"
    html = admin_client.get(reverse("regions:detail", args=[t["street"].pk])).content.decode()
    assert 'data-tile-url="https://tiles.example/{z}/{x}/{y}.png"' in html and "© Example" in html


def test_grid_page(t, admin_client):
    response = admin_client.get(reverse("regions:detail", args=[t["grid"].pk]))
    assert response.status_code == 302 and response["Location"] == reverse("regions:grid_detail", args=[t["grid"].pk])
    html = admin_client.get(reverse("regions:grid_detail", args=[t["grid"].pk])).content.decode()
    assert "第一网格" in html and "region-map" in html


def test_create_street_via_form(t, admin_client):
    url = reverse("regions:create", args=[t["county"].pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"code": "440305009000", "name": "新街道"})
    street = Region.objects.get(code="440305009000")
    assert response.status_code == 302
    assert street.level == Level.STREET and street.parent == t["county"]


def test_create_form_shows_service_errors(t, admin_client):
    url = reverse("regions:create", args=[t["community"].pk])
    response = admin_client.post(
        url, {"code": "440305001001001", "name": "叠", "boundary_text": json.dumps(square(113.945, 22.545))}
    )
    assert response.status_code == 200
    assert "第一网格" in response.content.decode()  # the overlap names the other grid
    assert not Region.objects.filter(name="叠").exists()


def test_create_with_boundary_file(t, admin_client):
    upload = io.BytesIO(json.dumps(square(113.95, 22.54)).encode())
    upload.name = "grid.geojson"
    response = admin_client.post(
        reverse("regions:create", args=[t["community"].pk]),
        {"code": "440305001001002", "name": "第二网格", "boundary_file": upload},
    )
    assert response.status_code == 302
    boundary = Region.objects.get(code="440305001001002").boundary
    assert boundary is not None and boundary["type"] == "Polygon"


def test_create_outside_scope_is_404(t, street_client):
    url = reverse("regions:create", args=[t["street"].pk])
    assert street_client.post(url, {"code": "440305001009", "name": "x"}).status_code == 404


def test_edit_and_retire(t, admin_client):
    url = reverse("regions:edit", args=[t["street2"].pk])
    assert admin_client.post(url, {"name": "沙河街道办", "successor_codes": ""}).status_code == 302
    t["street2"].refresh_from_db()
    assert t["street2"].name == "沙河街道办"
    # refused: a unit is attached
    admin_client.post(reverse("regions:retire", args=[t["street2"].pk]), {"valid_to": "2030-01-01"})
    t["street2"].refresh_from_db()
    assert t["street2"].valid_to is None


def test_export_respects_scope(t, street_client, admin_client):
    response = street_client.get(reverse("regions:export"))
    assert response.status_code == 200
    assert [row[0] for row in rows_of(response)] == ["440305002000"]
    response = admin_client.get(reverse("regions:export"), {"parent": t["street"].pk})
    codes = [row[0] for row in rows_of(response)]
    assert codes == ["440305001001", "440305001002"]
    events = AuditEvent.objects.filter(action="region.export").order_by("pk")
    assert [e.detail["rows"] for e in events] == [1, 2]  # type: ignore[index]


def _xlsx(rows):
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["编码", "名称", "层级", "上级编码"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "regions.xlsx"
    return buf


def test_import_page_shows_error_table(t, admin_client):
    before = Region.objects.count()
    response = admin_client.post(
        reverse("regions:import"), {"file": _xlsx([["440306001000", "错", "街道", "440305000000"]])}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "row 2" in html and "column A (编码)" in html and "440305" in html
    assert Region.objects.count() == before


def test_import_page_success(t, admin_client):
    response = admin_client.post(
        reverse("regions:import"), {"file": _xlsx([["440305009000", "新街道", "街道", "440305000000"]])}
    )
    assert response.status_code == 302
    assert Region.objects.filter(code="440305009000").exists()
    assert AuditEvent.objects.filter(action="region.import").exists()


def test_import_page_rejects_other_files(t, admin_client):
    upload = io.BytesIO(b"a,b")
    upload.name = "regions.csv"
    response = admin_client.post(reverse("regions:import"), {"file": upload})
    assert ".xlsx" in response.content.decode()


def test_import_respects_scope(t, street_client):
    response = street_client.post(
        reverse("regions:import"), {"file": _xlsx([["440305001009", "越权", "社区", "440305001000"]])}
    )
    assert "outside your data scope" in response.content.decode()
    assert not Region.objects.filter(code="440305001009").exists()


def test_import_template_download(t, admin_client):
    response = admin_client.get(reverse("regions:import_template"))
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    ws = wb.active
    assert ws is not None
    assert [c.value for c in ws[1]][:4] == ["编码", "名称", "层级", "上级编码"]


def test_chinese_messages(t, admin_client, settings):
    from django.utils import translation

    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        response = admin_client.post(
            reverse("regions:import"), {"file": _xlsx([["440306001000", "错", "街道", "440305000000"]])}
        )
        html = response.content.decode()
        assert "第 2 行" in html and "必须以上级代码的 “440305” 开头" in html
        assert "区划与网格" in admin_client.get(reverse("regions:tree")).content.decode()
