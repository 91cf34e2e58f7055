"""Demo visits and household tiers for the demo district: deterministic and quick.

In the first grids that have a grid worker, every household gets one to
three assessments over the last months (visits with notes, rows written in
bulk and scored by the real scoring function), some of them now overdue for
their follow-up. One household is then assessed red through the real
service, which opens its case in the closed loop (a duty alert for the street
centre). A second run adds nothing.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from fengqiao.audit.services import record
from fengqiao.registry.models import Household

from . import scoring, services
from .models import Assessment, HouseholdTier, Visit

DEMO_GRIDS = 4
PER_GRID = 12
NOTES = [
    "入户走访，家庭成员情绪稳定，已宣传反家暴法和调解渠道。",
    "与户主沟通近期邻里关系，双方表示愿意协商解决。",
    "了解到夫妻因家务分工有争吵，已进行疏导，约定下次回访。",
    "家中老人身体状况良好，子女按时探望。",
    "住户反映楼上噪音问题，已联系网格长协调。",
]
#: answer profiles from calm to tense: (emotional, domestic_violence, neighbour, debt, mental_health, police_calls)
PROFILES = [
    ("none", "none", "none", "none", "none", "none"),
    ("minor", "none", "minor", "none", "none", "none"),
    ("frequent", "none", "minor", "some", "none", "none"),
    ("frequent", "threats", "minor", "some", "none", "none"),
    ("frequent", "threats", "ongoing", "none", "concern", "none"),
]
CODES = ("emotional", "domestic_violence", "neighbour", "debt", "mental_health", "police_calls")


@dataclass
class DemoResult:
    households: int = 0
    assessments: int = 0
    red_case: str = ""


def _workers(grid_ids: list[int]) -> dict[int, int]:
    from fengqiao.units.models import GridAssignment, GridRole

    result: dict[int, int] = {}
    for grid_id, user_id in (
        GridAssignment.objects.filter(grid_id__in=grid_ids, role=GridRole.GRID_WORKER, valid_to__isnull=True)
        .order_by("grid_id", "id")
        .values_list("grid_id", "user_id")
    ):
        result.setdefault(grid_id, user_id)
    return result


def load_demo_visits(seed: int = 20240501, district_path: str = "") -> DemoResult:
    """Assessed households in the first grids (with a grid worker) of the demo district."""
    from fengqiao.audit.context import audit_context
    from fengqiao.demo.generator import DISTRICT_PATH
    from fengqiao.demo.loader import DEMO_ACTOR_NAME

    with audit_context(source="command", actor_name=str(DEMO_ACTOR_NAME)):
        return _load(seed, district_path or DISTRICT_PATH)


def _load(seed: int, district_path: str) -> DemoResult:
    result = DemoResult()
    model = services.ensure_default_model()
    if Assessment.objects.filter(region_path__startswith=district_path).exists():
        return result  # already loaded
    from fengqiao.units.models import GridAssignment, GridRole

    grid_ids = list(
        GridAssignment.objects.filter(
            region_path__startswith=district_path, role=GridRole.GRID_WORKER, valid_to__isnull=True
        )
        .order_by("region_path")
        .values_list("grid_id", flat=True)
        .distinct()[: DEMO_GRIDS * 3]
    )
    grid_ids = list(dict.fromkeys(grid_ids))[:DEMO_GRIDS]
    workers = _workers(grid_ids)
    households = [
        h for grid_id in grid_ids for h in Household.objects.filter(grid_id=grid_id).order_by("number")[:PER_GRID]
    ]
    if not households:
        return result
    spec = model.spec()
    now = timezone.now().replace(microsecond=0)
    visits: list[Visit] = []
    plans: list[tuple[Household, list[tuple[datetime.datetime, dict[str, str]]]]] = []
    for household in households:
        rng = random.Random(f"{seed}:{household.number}")  # noqa: S311 (demo data, not security)
        count = rng.choice((1, 2, 2, 3))
        level = rng.choice((0, 0, 1, 1, 2, 3))
        history = []
        for k in range(count):
            days_ago = (count - k) * rng.randint(25, 40) + rng.randint(0, 10) - 20
            at = now - datetime.timedelta(days=max(days_ago, 1), hours=rng.randint(0, 8))
            step = max(0, min(len(PROFILES) - 1, level + rng.choice((-1, 0, 0, 1))))
            history.append((at, dict(zip(CODES, PROFILES[step], strict=True))))
        plans.append((household, history))
        for at, _answers in history:
            visits.append(
                Visit(
                    household=household,
                    visitor_id=workers[household.grid_id],
                    visited_at=at,
                    grid_id=household.grid_id,
                    region_path=household.region_path,
                    lng=household.lng,
                    lat=household.lat,
                    located_grid_id=household.grid_id if household.lng is not None else None,
                    notes=rng.choice(NOTES),
                )
            )
    # one visit recorded from a neighbouring grid: the reviewers' list shows it flagged
    stray = next((v for v in visits if v.grid_id != visits[0].grid_id), None)
    if stray is not None and visits[0].grid.centroid_lng is not None:
        stray.lng, stray.lat = visits[0].grid.centroid_lng, visits[0].grid.centroid_lat
        stray.located_grid_id, stray.outside_grid = visits[0].grid_id, True
    with transaction.atomic():
        Visit.objects.bulk_create(visits, batch_size=500)
        assessments: list[Assessment] = []
        i = 0
        for household, history in plans:
            for at, answers in history:
                scored = scoring.score(spec, answers)
                if scored.tier == scoring.RED:  # red opens a case: the demo keeps those to the real service
                    answers = dict(zip(CODES, PROFILES[2], strict=True))
                    scored = scoring.score(spec, answers)
                assessments.append(
                    Assessment(
                        household=household,
                        visit=visits[i],
                        model=model,
                        answers=answers,
                        score=scored.score,
                        tier=scored.tier,
                        reasons=[
                            {
                                "code": c.code,
                                "label": c.label,
                                "level": c.level,
                                "level_label": c.level_label,
                                "points": c.points,
                            }
                            for c in scored.contributions
                        ],
                        assessed_by_id=visits[i].visitor_id,
                        assessed_at=at,
                        region_path=household.region_path,
                    )
                )
                i += 1
        Assessment.objects.bulk_create(assessments, batch_size=500)
        states: dict[int, HouseholdTier] = {}
        for a in assessments:  # in time order per household
            state = states.get(a.household_id)
            if state is None:
                states[a.household_id] = HouseholdTier(
                    household_id=a.household_id,
                    region_path=a.region_path,
                    tier=a.tier,
                    score=a.score,
                    assessment=a,
                    tier_since=a.assessed_at,
                    last_followed_at=a.assessed_at,
                )
            else:
                if state.tier != a.tier:
                    state.tier_since = a.assessed_at
                state.tier, state.score, state.assessment, state.last_followed_at = a.tier, a.score, a, a.assessed_at
        HouseholdTier.objects.bulk_create(list(states.values()), batch_size=500)
        record(
            "grid.demo.load",
            region_path=district_path,
            detail={"households": len(plans), "assessments": len(assessments), "model_version": model.version},
        )
    result.households, result.assessments = len(plans), len(assessments)
    result.red_case = _one_red(households, workers)
    return result


def _one_red(households: list[Household], workers: dict[int, int]) -> str:
    """The first demo household is assessed red through the real service: its case goes to triage."""
    from fengqiao.accounts.models import User
    from fengqiao.cases.models import Category

    if not Category.objects.filter(code=services.current_model().case_category_code).exists():
        return ""
    household = households[0]
    worker = User.objects.get(pk=workers[household.grid_id])
    answers = {
        "emotional": "severe",
        "domestic_violence": "suspected",
        "neighbour": "minor",
        "debt": "none",
        "mental_health": "none",
        "police_calls": "one_two",
    }
    assessment = services.assess_household(actor=worker, household=household, answers=answers)
    return assessment.case.number if assessment.case else ""
