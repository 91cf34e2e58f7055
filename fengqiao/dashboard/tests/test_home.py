import pytest
from django.core.management import call_command
from django.urls import reverse

from fengqiao.accounts.models import User
from fengqiao.regions.models import Level, Region
from fengqiao.registry.models import Resident


@pytest.fixture
def demo(db):
    call_command("load_demo_district", residents_per_grid=2, verbosity=0)


def stats_of(response) -> dict[str, int]:
    return {s.label: s.value for s in response.context["stats"]}


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


@pytest.mark.django_db
def test_street_user_counts_only_their_street(client, demo):
    user = User.objects.get(username="street_centre_1")
    client.force_login(user)
    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    stats = stats_of(response)
    assert user.unit is not None
    street_path = user.unit.region_path
    assert stats["Residents"] == Resident.objects.filter(region_path__under=street_path).count()
    assert stats["Residents"] < Resident.objects.count()
    grids = Region.objects.filter(level=Level.GRID, path__under=street_path, valid_to__isnull=True).count()
    assert stats["Grids"] == grids
    # the chart covers the same scope
    assert sum(response.context["chart_values"]) == stats["Residents"]


@pytest.mark.django_db
def test_grid_worker_sees_their_grids(client, demo):
    user = User.objects.get(username="grid_worker_1")
    client.force_login(user)
    response = client.get(reverse("home"))
    grids = response.context["my_grids"]
    assert grids, "a demo grid worker is responsible for at least one grid"
    body = response.content.decode()
    for assignment in grids:
        assert reverse("regions:grid_detail", args=[assignment.grid.pk]) in body
    assert stats_of(response)  # figures within the grid scope
    in_scope: int = Resident.objects.restrict(user).count()
    assert 0 < in_scope < Resident.objects.count()


@pytest.mark.django_db
def test_user_without_roles_sees_no_figures(client, demo):
    user = User.objects.get(username="street_centre_1")
    user.roles.clear()
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["stats"] == []
    assert response.context["chart_values"] == []
