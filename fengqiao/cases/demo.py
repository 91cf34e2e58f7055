"""Sample cases for the demo district: a few months of reports in every state.

Everything goes through the real services (``submit_case``, ``apply_action``,
``resident_action``) back-dated with ``services.as_of``, so the timeline,
deadlines, alerts and figures are exactly what real use would produce.
Deterministic for a given seed.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fengqiao.accounts.models import User
from fengqiao.regions.models import Level, Region

from . import services
from .categories import ensure_default_categories
from .models import Case, Category

TEXTS: dict[str, list[str]] = {
    "family": [
        "夫妻因孩子抚养问题经常争吵，希望社区帮忙调解。",
        "老人赡养费用分担问题，兄弟姐妹之间发生矛盾。",
        "家中老人与子女因房屋居住问题产生纠纷，请求调解。",
    ],
    "property": [
        "小区物业长期不维修电梯，电梯多次困人。",
        "物业费上涨没有公示，业主有意见，希望协调。",
        "小区地下车库积水严重，物业迟迟不处理。",
    ],
    "neighbour": [
        "楼上住户夜间噪音扰民，多次沟通无果。",
        "楼上卫生间漏水到我家天花板，协商不成。",
        "邻居在楼道长期堆放杂物占用公共空间。",
        "邻居饲养的狗夜间吠叫，影响休息。",
    ],
    "hazard": [
        "楼道里堆满了杂物，堵塞消防通道，存在安全隐患。",
        "有住户把电动车推进楼道充电，担心起火。",
        "小区消防栓没有水，灭火器过期。",
        "路口井盖松动，晚上有行人绊倒。",
    ],
    "environment": [
        "小区垃圾桶满了好几天没人清运，气味很大。",
        "河道边有人倾倒建筑垃圾。",
        "路边绿化带被占用种菜，影响环境。",
    ],
    "police": [
        "商业街夜市经常有人扒窃，希望加强巡逻。",
        "小区门口经常有车辆违停，堵塞消防通道。",
    ],
    "petition": ["对征地补偿标准有异议，多次反映未得到答复，请求依法处理。"],
    "other": ["公交站台遮雨棚损坏，下雨天无法候车。", "路灯不亮已经一周，夜间出行不便。"],
}
WEIGHTS = {
    "neighbour": 5,
    "hazard": 5,
    "environment": 4,
    "property": 4,
    "family": 3,
    "police": 2,
    "other": 2,
    "petition": 1,
}
OUTCOMES = [
    ("closed", 62),
    ("in_progress", 10),
    ("assigned", 5),
    ("submitted", 5),
    ("review", 4),
    ("rejected", 4),
    ("escalated", 5),
    ("reopened", 2),
    ("overdue", 3),
]
FEEDBACK = ["已现场处理完毕，并向当事人反馈。", "经协调，双方达成一致意见。", "已清理完毕，恢复正常。"]


class _Stepper:
    """Applies a case's actions one after another, each some hours after the last (never in the future)."""

    def __init__(self, case: Case, start: datetime.datetime, today: datetime.datetime) -> None:
        self.case, self.clock, self.today = case, start, today

    def step(self, action: str, actor: Any, hours: float, **kw: Any) -> None:
        self.clock = self.clock + datetime.timedelta(hours=hours)
        with services.as_of(min(self.clock, self.today - datetime.timedelta(minutes=5))):
            self.case = services.apply_action(self.case, action, actor=actor, **kw)


@dataclass
class DemoCasesResult:
    created: int
    skipped: bool


def _street_staff(street: Region, role: str) -> User | None:
    return User.objects.filter(unit__region=street, roles__code=role, is_active=True).order_by("username").first()


@transaction.atomic
def load_demo_cases(*, count: int = 120, seed: int = 8348, days: int = 75) -> DemoCasesResult:
    """Create ``count`` sample cases unless the demo already has cases."""
    if Case.objects.exists():
        return DemoCasesResult(0, True)
    ensure_default_categories()
    rng = random.Random(seed)  # noqa: S311 - deterministic demo data
    today = timezone.now()
    grids = list(
        Region.objects.filter(level=Level.GRID, valid_to__isnull=True, boundary__isnull=False)
        .select_related("parent", "parent__parent")
        .order_by("path")
    )
    if not grids:
        return DemoCasesResult(0, True)
    categories = {c.code: c for c in Category.objects.filter(district__isnull=True)}
    district_user = User.objects.filter(roles__code="district_centre", is_active=True).order_by("username").first()
    departments = list(User.objects.filter(roles__code="department_handler", is_active=True).order_by("username"))
    codes = [code for code in WEIGHTS if code in categories]
    weights = [WEIGHTS[c] for c in codes]
    outcomes, outcome_weights = zip(*OUTCOMES, strict=True)
    staff_cache: dict[tuple[int, str], Any] = {}

    def staff(street: Region, role: str) -> Any:
        key = (street.pk, role)
        if key not in staff_cache:
            staff_cache[key] = _street_staff(street, role)
        return staff_cache[key]

    created = 0
    for i in range(count):
        code = rng.choices(codes, weights)[0]
        category = categories[code]
        grid = rng.choice(grids)
        community = grid.parent
        street = community.parent if community is not None else None  # grid → community → street
        if community is None or street is None:
            continue
        triage = staff(street, "street_centre")
        if triage is None:
            continue
        outcome = rng.choices(outcomes, outcome_weights)[0]
        # recent cases are still open; old ones mostly closed
        age_days = rng.uniform(0.2, 4) if outcome in ("submitted", "assigned") else rng.uniform(1, days)
        if outcome == "overdue":
            age_days = rng.uniform(12, 30)
        received = today - datetime.timedelta(days=age_days, hours=rng.uniform(0, 10))
        extra: dict[str, Any] = {}
        for spec in category.extra_fields or []:
            if spec.get("datatype") == "singlevaluelist":
                extra[spec["code"]] = rng.choice(spec["values"])["key"]
            elif spec.get("required"):
                extra[spec["code"]] = f"{community.name}小区"
        minx = (grid.centroid_lng or 0) + rng.uniform(-0.0008, 0.0008)
        miny = (grid.centroid_lat or 0) + rng.uniform(-0.0008, 0.0008)
        with services.as_of(received):
            case = services.submit_case(
                category=category,
                description=rng.choice(TEXTS.get(code, TEXTS["other"])),
                channel=rng.choice(["qr", "qr", "qr", "phone", "walk_in", "grid"]),
                community=community,
                lng=minx,
                lat=miny,
                reporter_phone="" if rng.random() < 0.3 else f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                anonymous=rng.random() < 0.15,
                extra=extra,
                idempotency_key=f"demo-{seed}-{i}",
                received_at=received,
            )
        created += 1
        stepper = _Stepper(case, received, today)
        step = stepper.step

        if outcome == "submitted":
            continue
        if outcome == "rejected":
            step(
                "reject",
                triage,
                rng.uniform(1, 8),
                reason="该事项属于司法诉讼范围，不属于综治中心受理范围。",
                guidance="请携带相关材料到区人民法院诉讼服务中心咨询立案。",
            )
            continue
        if outcome == "escalated" and district_user and departments:
            leader = staff(street, "street_leader")
            if leader is not None:
                step("escalate", triage, rng.uniform(1, 6), reason="涉及多个部门职责，需区级协调。")
                step("approve_escalation", leader, rng.uniform(1, 12))
                step("dispatch", district_user, rng.uniform(1, 12), target_unit=rng.choice(departments).unit)
                continue
        workers = services.grid_workers(stepper.case)
        if not workers:
            step("handle_here", triage, rng.uniform(1, 6))
            worker = triage
        else:
            worker = workers[0]
            step("assign", triage, rng.uniform(0.5, 6), target_user=worker)
            if outcome == "assigned":
                continue
            step("accept", worker, rng.uniform(0.5, 8))
        if outcome in ("in_progress", "overdue"):
            if rng.random() < 0.5:
                step("report_findings", worker, rng.uniform(2, 24), note="已到现场查看，正在协调处理。")
            continue
        handling_hours = rng.uniform(4, 24 * 5) if category.default_complexity == "simple" else rng.uniform(12, 24 * 9)
        step("feedback", worker, handling_hours, note=rng.choice(FEEDBACK))
        if outcome == "review":
            continue
        step("pass_review", triage, rng.uniform(1, 20))
        if outcome == "reopened" or rng.random() < 0.8:
            rating = rng.choices([5, 4, 3, 2, 1], [70, 18, 6, 4, 2])[0] if outcome != "reopened" else 2
            with services.as_of(min(stepper.clock + datetime.timedelta(hours=6), today)):
                stepper.case = services.resident_action(
                    case.public_token, "rate", rating=rating, note="处理及时，很满意" if rating >= 4 else ""
                )
            if outcome == "reopened" or rating <= 2:
                with services.as_of(min(stepper.clock + datetime.timedelta(hours=8), today)):
                    services.resident_action(stepper.case.public_token, "reopen", reason="问题没有彻底解决。")
    # a few open cases are flagged under supervision by the district
    if district_user is not None:
        for case in Case.objects.filter(Q(state="in_progress")).order_by("received_at")[:2]:
            services.apply_action(case, "supervise", actor=district_user, note="请加快办理进度，按期办结。")
    return DemoCasesResult(created, False)
