"""The pages: my grid (phone), the household page, the visit form, the visit list, the model editor."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from fengqiao.accounts.models import User
from fengqiao.cases.models import Case
from fengqiao.grid import services
from fengqiao.grid.models import Assessment, AssessmentModel, Visit

from .conftest import GREEN, ORANGE, RED


@pytest.fixture
def worker_client(client, worker):
    client.force_login(worker)
    return client


def _post_visit(client, household, answers=None, **extra):
    data = {"household": household.pk, "notes": "入户走访", **extra}
    for code, level in (answers or {}).items():
        data[f"factor_{code}"] = level
    return client.post(reverse("grid:visit_new") + f"?household={household.pk}", data)


def test_my_grid_page(worker_client, grid, household):
    services.assess_household(actor=User.objects.get(username="grid_worker_1"), household=household, answers=ORANGE)
    response = worker_client.get(reverse("grid:my_grid"))
    assert response.status_code == 200
    body = response.content.decode()
    assert grid.name in body and "grid-map-data" in body and household.number in body
    assert response.context["counts"][1][2] == 1  # one orange household
    assert reverse("grid:visit_new") in body


def test_my_grid_other_grid_is_404(worker_client, other_grid):
    assert worker_client.get(reverse("grid:my_grid") + f"?grid={other_grid.pk}").status_code == 404


def test_household_page_and_scope(worker_client, household, other_household):
    services.assess_household(actor=User.objects.get(username="grid_worker_1"), household=household, answers=GREEN)
    response = worker_client.get(reverse("grid:household", args=[household.pk]))
    assert response.status_code == 200
    assert "tier-chart-data" in response.content.decode()
    assert worker_client.get(reverse("grid:household", args=[other_household.pk])).status_code == 404
    assert worker_client.get(reverse("grid:visit_new") + f"?household={other_household.pk}").status_code == 404
    assert _post_visit(worker_client, other_household).status_code == 404
    assert not Visit.objects.exists()


def test_visit_form_records_a_red_assessment(worker_client, household):
    response = worker_client.get(reverse("grid:visit_new") + f"?household={household.pk}")
    assert response.status_code == 200
    response = _post_visit(worker_client, household, RED, lng=household.lng, lat=household.lat)
    assert response.status_code == 302
    assessment = Assessment.objects.get()
    assert assessment.tier == "red" and assessment.case is not None
    page = worker_client.get(response["Location"])
    assert assessment.case.number in page.content.decode()


def test_visit_form_bad_input_keeps_values_and_writes_nothing(worker_client, household):
    response = _post_visit(worker_client, household, {"emotional": "frequent"}, notes="很长的记录")
    assert response.status_code == 400
    body = response.content.decode()
    assert "factor_domestic_violence" in response.context["form"].errors and "很长的记录" in body
    import re

    assert re.search(r'<input[^>]*value="frequent"[^>]*checked', body)
    picture = SimpleUploadedFile("x.jpg", b"no image", content_type="image/jpeg")
    response = worker_client.post(
        reverse("grid:visit_new") + f"?household={household.pk}", {"household": household.pk, "photos": picture}
    )
    assert response.status_code == 400 and "“x.jpg”" in response.content.decode()
    assert not Visit.objects.exists() and not Case.objects.exists()


def test_visit_form_with_photo(worker_client, household):
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "PNG")
    picture = SimpleUploadedFile("a.png", buf.getvalue(), content_type="image/png")
    response = worker_client.post(
        reverse("grid:visit_new") + f"?household={household.pk}", {"household": household.pk, "photos": picture}
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    photo = visit.photos.get()
    response = worker_client.get(reverse("grid:visit_photo", args=[visit.pk, photo.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_visit_list_shows_the_flag(client, worker, household, other_grid):
    services.record_visit(actor=worker, household=household, lng=other_grid.centroid_lng, lat=other_grid.centroid_lat)
    centre = User.objects.get(username="street_centre_1")
    client.force_login(centre)
    response = client.get(reverse("grid:visits") + "?flagged=1")
    assert response.status_code == 200
    body = response.content.decode()
    assert household.number in body and "badge bad" in body and other_grid.name in body


def test_model_page_edit(client, district):
    admin = User.objects.get(username="district_centre")
    client.force_login(admin)
    current = services.current_model()
    response = client.get(reverse("grid:model"))
    assert response.status_code == 200
    data = {
        "factor_count": len(current.factors),
        "threshold_red": "20",
        "threshold_orange": "10",
        "threshold_yellow": "4",
        "days_red": "5",
        "days_orange": "14",
        "days_yellow": "30",
        "days_green": "90",
        "case_category_code": "family",
        "note": "红色每5天回访",
    }
    from fengqiao.grid.forms import level_lines

    for i, f in enumerate(current.factors):
        data.update(
            {
                f"f{i}-code": f["code"],
                f"f{i}-label": f["label"],
                f"f{i}-label_en": f["label_en"],
                f"f{i}-weight": str(f["weight"]),
                f"f{i}-levels": level_lines(f),
            }
        )
        if f["required"]:
            data[f"f{i}-required"] = "on"
    bad = {**data, "threshold_orange": "25"}
    response = client.post(reverse("grid:model"), bad)
    assert response.status_code == 400 and "thresholds" in response.context["errors"]
    assert AssessmentModel.objects.count() == 1
    response = client.post(reverse("grid:model"), data)
    assert response.status_code == 302
    new = AssessmentModel.objects.get(is_current=True)
    assert new.version == current.version + 1 and new.follow_up_days["red"] == 5
    assert new.thresholds == {"red": 20.0, "orange": 10.0, "yellow": 4.0}
    assert [f["required"] for f in new.factors] == [f["required"] for f in current.factors]


def test_model_page_read_only_for_grid_workers(worker_client):
    assert worker_client.get(reverse("grid:model")).status_code == 200
    assert worker_client.post(reverse("grid:model"), {"factor_count": "0"}).status_code == 403


def test_pages_need_the_permission(client, district):
    client.force_login(User.objects.get(username="judge"))
    assert client.get(reverse("grid:my_grid")).status_code == 403
    assert client.get(reverse("grid:visit_new")).status_code == 403
