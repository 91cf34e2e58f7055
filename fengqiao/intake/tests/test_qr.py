"""QR codes (PNG, SVG), A4 posters and the staff list of codes."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from fengqiao.intake import qr

from .factories import COMMUNITY, OTHER_COMMUNITY, staff

pytestmark = pytest.mark.django_db


def test_png_encodes_the_report_url(where):
    response = Client().get(f"/r/qr/{COMMUNITY}.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    assert response.content == qr.png(f"http://testserver/r/{COMMUNITY}/")
    assert response["Content-Disposition"].startswith("inline")


def test_svg_encodes_the_report_url(where):
    response = Client().get(f"/r/qr/{COMMUNITY}.svg?download=1")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.decode() == qr.svg(f"http://testserver/r/{COMMUNITY}/")
    assert response["Content-Disposition"] == f'attachment; filename="fengqiao-{COMMUNITY}.svg"'


def test_public_base_url_is_encoded(where, settings):
    settings.FENGQIAO_PUBLIC_BASE_URL = "https://fq.example.gov.cn"
    response = Client().get(f"/r/qr/{COMMUNITY}.png", HTTP_HOST="internal:8000")
    assert response.content == qr.png(f"https://fq.example.gov.cn/r/{COMMUNITY}/")


@pytest.mark.parametrize("path", ["/r/qr/440399001000.png", "/r/qr/440399001999.svg", "/r/qr/abc.png"])
def test_qr_of_unknown_community_is_404(where, path):
    assert Client().get(path).status_code == 404


# --- staff pages ---------------------------------------------------------------------------------------


@pytest.fixture
def street_staff(where):
    return staff("street_officer", ["regions.view_region"], unit=where.centre)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_pages_need_login(where):
    for path in ["/r/codes/", f"/r/poster/{COMMUNITY}/", "/r/posters/", "/r/codes/export/"]:
        response = Client().get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_staff_pages_need_the_permission(where):
    client = login(staff("nobody", [], unit=where.centre))
    for path in ["/r/codes/", f"/r/poster/{COMMUNITY}/", "/r/posters/", "/r/codes/export/"]:
        assert client.get(path).status_code == 403


def test_poster_in_scope(where, street_staff):
    response = login(street_staff).get(f"/r/poster/{COMMUNITY}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "枫桥示范区" in html and "枫溪街道" in html and "枫溪社区" in html
    assert "<svg" in html and "intake/poster.css" in html
    assert f"http://testserver/r/{COMMUNITY}/" in html
    assert 'class="sidebar"' not in html and 'class="nav"' not in html  # printable: no navigation
    assert "0755-35958100" in html


def test_poster_out_of_scope_is_404(where, street_staff):
    assert login(street_staff).get(f"/r/poster/{OTHER_COMMUNITY}/").status_code == 404


def test_print_css_is_a4():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[1] / "static" / "intake" / "poster.css").read_text()
    assert "@page { size: A4" in css and "break-after: page" in css and "@media print" in css


def test_all_posters_only_in_scope(where, street_staff):
    html = login(street_staff).get("/r/posters/").content.decode()
    assert html.count('<article class="poster">') == 1
    assert "桥东社区" not in html
    admin = staff("district_admin", ["regions.view_region"], scope="all")
    html = login(admin).get("/r/posters/").content.decode()
    assert html.count('<article class="poster">') == 2
    html = login(admin).get(f"/r/posters/?street={where.other_street.path}").content.decode()
    assert html.count('<article class="poster">') == 1 and "桥东社区" in html


def test_code_list_filters_and_export(where, street_staff):
    admin = staff("district_admin", ["regions.view_region"], scope="all")
    client = login(admin)
    html = client.get("/r/codes/").content.decode()
    assert "枫溪社区" in html and "桥东社区" in html
    assert f"/r/qr/{COMMUNITY}.png?download=1" in html and f"/r/poster/{COMMUNITY}/" in html
    html = client.get("/r/codes/?q=桥东").content.decode()
    assert "桥东社区" in html and "枫溪社区" not in html
    html = login(street_staff).get("/r/codes/").content.decode()
    assert "枫溪社区" in html and "桥东社区" not in html
    response = login(street_staff).get("/r/codes/export/")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active  # type: ignore[attr-defined]
    assert ws is not None
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows == [
        (
            "枫桥示范区",
            "枫溪街道",
            "枫溪社区",
            COMMUNITY,
            f"http://testserver/r/{COMMUNITY}/",
            f"http://testserver/r/qr/{COMMUNITY}.png",
        )
    ]


def test_posters_are_in_the_site_language_whatever_the_staff_reads(where, street_staff, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client = login(street_staff)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get(f"/r/poster/{COMMUNITY}/").content.decode()
    assert "一码解纠纷" in html and "邻里纠纷" in html
    assert "Neighbour dispute" not in html
