"""The demo hook: deterministic, quick, idempotent; one red household through the real service."""

from __future__ import annotations

from fengqiao.cases.models import Case, Channel
from fengqiao.grid.demo import load_demo_visits
from fengqiao.grid.models import Assessment, HouseholdTier, Visit
from fengqiao.units.models import GridAssignment, GridRole

from .conftest import make_household


def test_demo_visits(district):
    grids = []
    for a in GridAssignment.objects.filter(role=GridRole.GRID_WORKER).select_related("grid").order_by("region_path"):
        if a.grid not in grids:
            grids.append(a.grid)
    homes = [make_household(g) for g in grids[:2] for _ in range(5)]
    result = load_demo_visits(seed=7)
    assert result.households == len(homes) and result.assessments == Assessment.objects.count() - 1
    assert HouseholdTier.objects.count() == len(homes)
    case = Case.objects.get(channel=Channel.ASSESSMENT)
    assert result.red_case == case.number
    assert HouseholdTier.objects.filter(tier="red").count() == 1
    assert Visit.objects.filter(outside_grid=True).count() == 1
    tiers = dict(HouseholdTier.objects.values_list("household__number", "tier"))
    again = load_demo_visits(seed=7)
    assert again.households == 0 and Assessment.objects.count() == result.assessments + 1
    assert dict(HouseholdTier.objects.values_list("household__number", "tier")) == tiers
