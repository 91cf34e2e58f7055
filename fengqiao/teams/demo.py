"""Demo data of the teams (called by ``manage.py load_demo_district``): members of the demo
district's mediation and volunteer teams, a staff account for the "唐大叔" mediation team,
patrol records of the last weeks and, when sample cases are wanted, a few disputes handled
by the mediation teams through the real case workflow. Deterministic for a seed, idempotent
(nothing is added once the teams have members), a fraction of a second without cases."""

from __future__ import annotations

import datetime
import random
from typing import Any

from django.db import transaction
from django.utils import timezone

from fengqiao.accounts.models import User
from fengqiao.audit.context import audit_context
from fengqiao.audit.services import record
from fengqiao.core.personal import seal_personal_fields
from fengqiao.demo.generator import DISTRICT_PATH, People
from fengqiao.regions.models import Level, Region
from fengqiao.units.models import Unit, UnitKind

from .models import TEAM_KINDS, PatrolRecord, TeamMember, TeamRole

SKILLS = ["家庭纠纷调解", "邻里纠纷调解", "法律咨询", "心理疏导", "治安巡逻", "消防安全", "急救", "普通话/方言翻译"]
NOTES = [
    "沿主要道路和小区出入口巡逻，重点查看夜市和公交站。",
    "入户走访独居老人，检查楼道消防通道。",
    "配合社区民警开展夜间巡逻，劝导占道经营。",
    "巡查河道沿线和学校周边。",
]
FINDINGS = [
    "",
    "",
    "3号楼楼道堆放杂物，堵塞消防通道。",
    "公交站旁井盖松动，已设置临时警示。",
    "夜市摊位占用盲道，已当场劝导。",
]
DISPUTES = [
    ("neighbour", "楼上住户装修噪音扰民，双方多次争吵，请调解队介入。"),
    ("family", "夫妻因赡养老人问题发生争执，请求调解。"),
    ("neighbour", "邻居占用公共走廊堆放杂物，协商不成。"),
    ("property", "业主与物业因停车费问题产生纠纷。"),
]


def load_demo_teams(*, seed: int = 20260515, cases: int = 0) -> dict[str, int]:
    from fengqiao.demo.loader import DEMO_ACTOR_NAME

    with audit_context(source="command", actor_name=str(DEMO_ACTOR_NAME)):
        return _load(seed=seed, cases=cases)


@transaction.atomic
def _load(*, seed: int, cases: int) -> dict[str, int]:
    teams = list(Unit.objects.filter(region_path__startswith=DISTRICT_PATH, kind__in=TEAM_KINDS).order_by("code"))
    if not teams or TeamMember.objects.filter(team__in=teams).exists():
        return {}
    rng = random.Random(seed)  # noqa: S311 - deterministic demo data
    people = People(rng)
    today = timezone.localdate()
    mediation = [t for t in teams if t.kind == UnitKind.MEDIATION_TEAM]
    first_mediation = next((t for t in mediation if "唐大叔" in t.name), mediation[0] if mediation else None)
    members: list[TeamMember] = []
    for team in teams:
        size = rng.randint(5, 8)
        for i in range(size):
            gender = rng.choice("MF")
            surname = "唐" if team == first_mediation and i == 0 else None
            member = TeamMember(
                team=team,
                region_path=team.region_path,
                name=people.name(gender, surname=surname) if surname else people.unique_name(gender),
                phone=people.phone(),
                role=TeamRole.LEADER if i == 0 else (TeamRole.DEPUTY if i == 1 else TeamRole.MEMBER),
                since=today - datetime.timedelta(days=rng.randint(200, 6 * 365)),
                skills="、".join(rng.sample(SKILLS, 2)),
            )
            seal_personal_fields(member)
            members.append(member)
    TeamMember.objects.bulk_create(members)
    by_team: dict[int, list[TeamMember]] = {}
    for member in TeamMember.objects.filter(team__in=teams).order_by("id"):
        by_team.setdefault(member.team_id, []).append(member)
    recorder = (
        User.objects.filter(unit__region_path__startswith=DISTRICT_PATH, roles__code="street_centre")
        .order_by("username")
        .first()
    )
    patrols = 0
    for team in teams:
        grids = list(
            Region.objects.current()
            .filter(level=Level.GRID, path__startswith=team.region_path, boundary__isnull=False)
            .order_by("path")
        )
        if not grids or recorder is None:
            continue
        count = 6 if team.kind == UnitKind.VOLUNTEER_TEAM else 2
        for n in range(count):
            day = today - datetime.timedelta(days=3 + n * 4 + rng.randint(0, 2))
            start = timezone.make_aware(datetime.datetime.combine(day, datetime.time(rng.choice([9, 14, 19]), 0)))
            chosen = rng.sample(grids, min(len(grids), rng.randint(1, 3)))
            route = [[g.centroid_lng, g.centroid_lat] for g in chosen if g.centroid_lng is not None]
            patrol = PatrolRecord.objects.create(
                team=team,
                region_path=team.region_path,
                started_at=start,
                ended_at=start + datetime.timedelta(hours=2),
                route={"type": "LineString", "coordinates": route} if len(route) > 1 else None,
                notes=rng.choice(NOTES),
                findings=rng.choice(FINDINGS),
                recorded_by=recorder,
            )
            patrol.grids.set(chosen)
            crew = by_team[team.pk]
            patrol.participants.set(rng.sample(crew, min(len(crew), rng.randint(2, 4))))
            patrols += 1
    disputes = _disputes(mediation, cases, rng) if cases else 0
    record(
        "teams.demo_load",
        detail={"members": len(members), "patrols": patrols, "cases": disputes},
        region_path=DISTRICT_PATH,
    )
    return {"members": len(members), "patrols": patrols, "cases": disputes}


def required_extra(category: Any) -> dict[str, Any]:
    """Values for a category's required extra fields: the first choice of each (demo data)."""
    extra: dict[str, Any] = {}
    for spec in category.extra_fields or []:
        if spec.get("required"):
            values = [v.get("key") for v in spec.get("values") or []]
            if spec.get("datatype") == "multivaluelist":
                extra[spec["code"]] = values[:1]
            elif values:
                extra[spec["code"]] = values[0]
            elif spec.get("datatype") == "number":
                extra[spec["code"]] = 1
            else:
                extra[spec["code"]] = "—"
    return extra


def _disputes(teams: list[Unit], count: int, rng: random.Random) -> int:
    """Disputes handed to the mediation teams by their street centre and handled (the demo's teams
    have no staff accounts: the centre records the team's work), most of them closed."""
    from fengqiao.cases import services
    from fengqiao.cases.categories import ensure_default_categories
    from fengqiao.cases.models import Category, Channel

    ensure_default_categories()
    categories = {c.code: c for c in Category.objects.filter(code__in={code for code, _t in DISPUTES})}
    now = timezone.now()
    created = 0
    for i in range(min(count, 4 * len(teams))):
        team = teams[i % len(teams)]
        centre = User.objects.filter(
            unit__kind=UnitKind.CENTRE, unit__region_path=team.region_path[:9], roles__code="street_centre"
        ).first()
        community = (
            team.region
            if team.region.level == Level.COMMUNITY
            else Region.objects.current().filter(level=Level.COMMUNITY, path__startswith=team.region_path).first()
        )
        if centre is None or community is None:
            continue
        code, text = DISPUTES[i % len(DISPUTES)]
        received = now - datetime.timedelta(days=rng.randint(5, 40), hours=rng.randint(0, 8))
        clock = received
        with services.as_of(received):
            case = services.submit_case(
                category=categories[code],
                description=text,
                channel=Channel.WALK_IN,
                actor=centre,
                community=community,
                extra=required_extra(categories[code]),
            )
        handler: Any = centre
        steps: list[tuple[str, Any, dict[str, Any]]] = [
            ("assign", centre, {"target_unit": team}),
            ("accept", handler, {}),
            ("feedback", handler, {"note": "经调解，双方达成和解协议。"}),
        ]
        if i % 5 != 4:  # most are closed; some still wait for review
            steps.append(("pass_review", centre, {}))
        for action, actor, kw in steps:
            clock = min(clock + datetime.timedelta(hours=rng.randint(4, 30)), now - datetime.timedelta(minutes=5))
            with services.as_of(clock):
                case = services.apply_action(case, action, actor=actor, **kw)
        created += 1
    return created
