"""The phone report form: what it shows, one case per form, every bad input refused with the rest kept."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from fengqiao.cases.models import Case, Category, Channel
from fengqiao.system.models import Parameter

from .factories import COMMUNITY, OTHER_COMMUNITY, category, find, form_key, photo, report_data

pytestmark = pytest.mark.django_db


def field_block(html: str, name: str) -> str:
    """The HTML of one field's block (``<div class="field…" id="f-<name>">`` up to the next field)."""
    match = re.search(
        rf'<div class="field[^"]*" id="f-{re.escape(name)}">(.*?)(?=<div class="field|</section>)', html, re.S
    )
    assert match is not None, f"no field block for {name}"
    return match.group(0)


def post(client: Client, data: dict[str, Any], code: str = COMMUNITY, **extra: Any) -> Any:
    return client.post(f"/r/{code}/", data, **extra)


# --- what the form shows -----------------------------------------------------------------------------


def test_form_shows_the_community_public_categories_and_a_key(where):
    response = Client().get(f"/r/{COMMUNITY}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "枫溪社区" in html and "枫溪街道" in html and "枫桥示范区" in html
    assert "Neighbour dispute" in html and "Safety hazard" in html  # English names in English
    assert "Residence permit" not in html  # not public: staff file it (代办)
    assert 'name="idempotency_key"' in html
    assert response["Cache-Control"] == "no-store"
    # the extra field of 邻里纠纷 (required single choice) is rendered for that category
    neighbour = category("neighbour")
    assert f'name="x{neighbour.pk}_issue"' in html
    assert "0755-35958100" in html  # the street centre's phone for urgent matters


def test_form_carries_the_community_and_grid_outlines(where):
    html = Client().get(f"/r/{COMMUNITY}/").content.decode()
    data = json.loads(find(r'<script id="map-data" type="application/json">(.*?)</script>', html))
    kinds = sorted(f["properties"]["kind"] for f in data["features"])
    assert kinds == ["community", "grid", "grid"]
    assert "vendor/leaflet/leaflet.js" in html


def test_a_community_without_boundary_has_no_map(where):
    html = Client().get(f"/r/{OTHER_COMMUNITY}/").content.decode()
    assert 'id="map-data"' not in html
    assert 'name="address"' in html


def test_each_key_is_fresh(where):
    client = Client()
    assert form_key(client) != form_key(client)


@pytest.mark.parametrize("code", ["440399001000", "440399001099", "000000000000"])
def test_unknown_or_non_community_code_is_404(where, code):
    assert Client().get(f"/r/{code}/").status_code == 404


def test_retired_community_is_404(where):
    where.community.valid_to = timezone.localdate()
    where.community.save()
    assert Client().get(f"/r/{COMMUNITY}/").status_code == 404


def test_district_category_replaces_the_global_one(where):
    own = Category.objects.create(code="property", name="小区物业问题", district=where.county, sort_order=-1)
    html = Client().get(f"/r/{COMMUNITY}/").content.decode()
    assert "小区物业问题" in html
    assert f'value="{category("property").pk}"' not in html
    assert f'value="{own.pk}"' in html


# --- a good report -----------------------------------------------------------------------------------


def test_good_report_creates_a_case_and_shows_the_private_link(where):
    client = Client()
    key = form_key(client)
    grid = where.grids[1]
    response = post(
        client,
        report_data(key, lng="113.815", lat="22.405", photos=[photo("a.jpg"), photo("b.png", fmt="PNG")]),
    )
    assert response.status_code == 302
    case = Case.objects.get()
    assert response["Location"] == f"/r/t/{case.public_token}/sent/"
    assert case.channel == Channel.QR
    assert case.community == where.community and case.grid == grid
    assert case.address == "3栋2单元楼道"
    assert case.reporter_phone_masked == "138****8000"
    assert case.attachments.count() == 2
    assert all(a.uploaded_by_resident for a in case.attachments.all())
    page = client.get(response["Location"])
    html = page.content.decode()
    assert case.number in html
    assert f"http://testserver/r/t/{case.public_token}/" in html
    assert page["Cache-Control"] == "no-store"
    assert page["Referrer-Policy"] == "same-origin"


def test_extra_fields_are_stored(where):
    client = Client()
    neighbour = category("neighbour")
    data = report_data(form_key(client), category=str(neighbour.pk), **{f"x{neighbour.pk}_issue": "noise"})
    assert post(client, data).status_code == 302
    assert Case.objects.get().extra == {"issue": "noise"}


def test_anonymous_report_keeps_no_name_or_phone(where):
    client = Client()
    assert post(client, report_data(form_key(client), anonymous="on")).status_code == 302
    case = Case.objects.get()
    assert case.anonymous
    assert case.reporter_name_masked == "" and case.reporter_phone_masked == ""


def test_public_base_url_setting_is_used_for_links(where, settings):
    settings.FENGQIAO_PUBLIC_BASE_URL = "https://fq.example.gov.cn/"
    client = Client()
    response = post(client, report_data(form_key(client)))
    html = client.get(response["Location"]).content.decode()
    assert "https://fq.example.gov.cn/r/t/" in html


# --- one form, one case ----------------------------------------------------------------------------


def test_resubmitted_form_creates_one_case(where):
    """Double tap, flaky network, back button: the same hidden key gives the same case."""
    client = Client()
    data = report_data(form_key(client))
    first = post(client, data)
    second = post(client, data)
    third = post(client, {**data, "description": "edited after pressing back"})
    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert first["Location"] == f"/r/t/{case.public_token}/sent/"
    assert second["Location"] == third["Location"] == f"/r/t/{case.public_token}/sent/?again=1"
    assert case.description == data["description"]
    assert "it was not sent twice" in client.get(second["Location"]).content.decode()


def test_two_forms_make_two_cases(where):
    client = Client()
    post(client, report_data(form_key(client)))
    post(client, report_data(form_key(client)))
    assert Case.objects.count() == 2


@pytest.mark.parametrize("key", ["", "forged-key-12345678901234567890", "abc:def"])
def test_missing_or_forged_key_is_refused_and_the_report_kept(where, key):
    client = Client()
    response = post(client, report_data(key))
    assert response.status_code == 200
    html = response.content.decode()
    assert "This form was out of date" in html
    assert "楼道里堆满了杂物，影响通行" in html
    assert not Case.objects.exists()
    new_key = find(r'name="idempotency_key" value="([^"]+)"', html)
    assert new_key != key
    assert post(client, report_data(new_key)).status_code == 302


# --- bad input -----------------------------------------------------------------------------------------


def _png_of_size(min_bytes: int) -> SimpleUploadedFile:
    side = 300
    while True:
        buf = io.BytesIO()
        Image.effect_noise((side, side), 100).convert("RGB").save(buf, "PNG")
        if buf.tell() >= min_bytes:
            return SimpleUploadedFile("big.png", buf.getvalue(), content_type="image/png")
        side *= 2


BAD = [
    ("description", {"description": ""}, "Describe the problem"),
    ("description", {"description": "abc"}, "at least 5 characters"),
    ("description", {"description": "长" * 4001}, "is too long"),
    ("category", {"category": ""}, "Choose what the problem is about"),
    ("category", {"category": "999999"}, "cannot be chosen here"),
    ("reporter_phone", {"reporter_phone": "12345"}, "is not a valid phone number"),
    ("reporter_phone", {"reporter_phone": "4008123123"}, "service number"),
    ("address", {"address": "", "lng": "", "lat": ""}, "Tell us where"),
    ("address", {"address": "", "lng": "113.8", "lat": ""}, "incomplete"),
    ("address", {"address": "x" * 201}, "at most 200 characters"),
    ("reporter_name", {"reporter_name": "名" * 51}, "at most 50 characters"),
]


@pytest.mark.parametrize(("field", "changes", "message"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_refused_next_to_the_field_and_the_rest_kept(where, field, changes, message):
    client = Client()
    data = report_data(form_key(client), **changes)
    response = post(client, data)
    assert response.status_code == 200
    html = response.content.decode()
    block = field_block(html, field)
    assert message in block
    assert "has-error" in block
    assert "Your report was not sent yet" in html
    assert not Case.objects.exists()
    # what was typed is kept
    for name in ("description", "address", "reporter_name", "reporter_phone"):
        value = data.get(name)
        if value and name != field:
            assert value in html


def test_non_public_category_cannot_be_chosen(where):
    client = Client()
    hidden = Category.objects.get(code="residence-permit")
    response = post(client, report_data(form_key(client), category=str(hidden.pk)))
    assert "cannot be chosen here" in field_block(response.content.decode(), "category")
    assert not Case.objects.exists()


def test_other_district_category_cannot_be_chosen(where):
    from fengqiao.regions.models import Level, Region

    other = Region.objects.create(code="440398000000", name="别区", level=Level.COUNTY, path="440398")
    foreign = Category.objects.create(code="foreign", name="别区事项", district=other)
    client = Client()
    response = post(client, report_data(form_key(client), category=str(foreign.pk)))
    assert "cannot be chosen here" in response.content.decode()
    assert not Case.objects.exists()


def test_required_extra_field_of_the_chosen_category(where):
    client = Client()
    neighbour = category("neighbour")
    name = f"x{neighbour.pk}_issue"
    response = post(client, report_data(form_key(client), category=str(neighbour.pk)))
    assert "is required for this kind of problem" in field_block(response.content.decode(), name)
    response = post(client, report_data(form_key(client), category=str(neighbour.pk), **{name: "fireworks"}))
    assert "Select a valid choice" in field_block(response.content.decode(), name)
    assert not Case.objects.exists()


def test_extra_fields_of_other_categories_are_ignored(where):
    client = Client()
    neighbour = category("neighbour")
    data = report_data(form_key(client), **{f"x{neighbour.pk}_issue": "noise"})  # category: environment
    assert post(client, data).status_code == 302
    assert Case.objects.get().extra == {}


def test_wrong_type_upload_is_refused_and_the_rest_kept(where):
    client = Client()
    fake = SimpleUploadedFile("evil.jpg", b"MZ\x90\x00 not a photo at all", content_type="image/jpeg")
    response = post(client, report_data(form_key(client), photos=[fake]))
    html = response.content.decode()
    block = field_block(html, "photos")
    assert "is not a photo we can read" in block
    assert "choose your photos again" in block
    assert "楼道里堆满了杂物，影响通行" in html and "3栋2单元楼道" in html and "13800138000" in html
    assert not Case.objects.exists()


def test_oversize_upload_is_refused(where):
    Parameter.objects.create(key="intake.max_photo_mb", name="max", value_type="integer", value=1)
    client = Client()
    response = post(client, report_data(form_key(client), photos=[_png_of_size(1024 * 1024 + 1)]))
    block = field_block(response.content.decode(), "photos")
    assert "is too large" in block and "the limit is 1 MB" in block
    assert not Case.objects.exists()


def test_too_many_photos(where):
    Parameter.objects.create(key="intake.max_photos", name="max", value_type="integer", value=2)
    client = Client()
    response = post(client, report_data(form_key(client), photos=[photo("1.jpg"), photo("2.jpg"), photo("3.jpg")]))
    block = field_block(response.content.decode(), "photos")
    assert "at most 2 are allowed" in block
    assert not Case.objects.exists()


def test_point_outside_the_world_is_refused(where):
    client = Client()
    response = post(client, report_data(form_key(client), lng="200", lat="22.4", address=""))
    html = response.content.decode()
    assert "Tell us where" in field_block(html, "address")
    assert not Case.objects.exists()


def test_messages_are_in_chinese_by_default(where, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    from django.utils import translation

    with translation.override("zh-hans"):
        client = Client()
        key = form_key(client)
        html = client.get(f"/r/{COMMUNITY}/").content.decode()
        assert "反映问题" in html
        response = post(client, report_data(key, description=""))
    html = response.content.decode()
    assert "请描述" in html
    assert 'lang="zh-hans"' in html
