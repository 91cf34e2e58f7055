"""The demo district (small) with its teams, members and patrols; English msgids."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import translation

from fengqiao.accounts.models import User
from fengqiao.cases.categories import ensure_default_categories
from fengqiao.units.models import Unit, UnitKind


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def district(db):
    call_command("load_demo_district", residents_per_grid=0, cases=0, verbosity=0)
    ensure_default_categories()
    from fengqiao.workdays.services import seed_from_chinese_calendar

    seed_from_chinese_calendar()


@pytest.fixture
def tdst(district):
    """唐大叔调解工作室: a mediation team in the first community of street 1."""
    return Unit.objects.get(kind=UnitKind.MEDIATION_TEAM, name__contains="唐大叔")


@pytest.fixture
def patrol_team(district):
    """The volunteer patrol team of street 1."""
    return Unit.objects.filter(kind=UnitKind.VOLUNTEER_TEAM).order_by("code").first()


@pytest.fixture
def mediator(tdst):
    """A team member with a staff account: unit = the team, the built-in role for unit handlers."""
    from django.utils import timezone

    from fengqiao.accounts.models import Role
    from fengqiao.teams import services
    from fengqiao.teams.models import TeamRole

    user = User.objects.create_user(username="mediator_1", password="x", display_name="唐卫东", unit=tdst)
    user.roles.add(Role.objects.get(code="department_handler"))
    services.add_member(
        actor=User.objects.get(username="street_centre_1"),
        team=tdst,
        name="唐卫东",
        phone="13900001111",
        role=TeamRole.DEPUTY,
        since=timezone.localdate(),
        user=user,
    )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def users(district, mediator):
    names = ["street_centre_1", "street_centre_2", "community_1", "grid_worker_1", "leader", "dept_housing"]
    return {name: User.objects.get(username=name) for name in names} | {"mediator_1": mediator}
