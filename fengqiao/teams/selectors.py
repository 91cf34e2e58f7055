"""Restricted reads of teams, members, patrols and the dispute resolution rates of teams."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Case as SqlCase
from django.db.models import Count, F, Q, QuerySet, Value, When
from django.db.models.functions import Substr
from django.utils import timezone

from fengqiao.cases.models import OPEN_STATES, Case
from fengqiao.regions.models import Region
from fengqiao.units.models import Unit

from .models import TEAM_KINDS, PatrolRecord, TeamMember, TeamRole

PAGE_SIZE = 25
GROUPS = ("team", "street", "community")
STREET_DIGITS, COMMUNITY_DIGITS = 9, 12


def teams(user: Any, filters: Mapping[str, str] | None = None) -> QuerySet[Unit]:
    """The teams the user may see, with their current member count."""
    filters = filters or {}
    today = timezone.localdate()
    qs: QuerySet[Unit] = Unit.objects.restrict(user, "view").filter(kind__in=TEAM_KINDS).select_related("region")
    kind = filters.get("kind", "")
    if kind in TEAM_KINDS:
        qs = qs.filter(kind=kind)
    if filters.get("status") != "all":
        qs = qs.filter(is_active=True)
    q = (filters.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__startswith=q))
    current = Q(team_members__since__lte=today) & (
        Q(team_members__until__isnull=True) | Q(team_members__until__gte=today)
    )
    return qs.annotate(member_count=Count("team_members", filter=current)).order_by("region_path", "kind", "name")


def open_cases_by_team(user: Any, team_ids: list[int]) -> dict[int, int]:
    """Open cases (in the user's scope) handled by each team: one grouped query."""
    rows: Any = (
        Case.objects.restrict(user, "view")
        .filter(unit_id__in=team_ids, state__in=OPEN_STATES)
        .values("unit_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {r["unit_id"]: r["n"] for r in rows}


def team(user: Any, pk: int) -> Unit | None:
    return (
        Unit.objects.restrict(user, "view")
        .filter(kind__in=TEAM_KINDS, pk=pk)
        .select_related("region", "parent")
        .first()
    )


def members(user: Any, team: Unit, *, include_former: bool = False) -> QuerySet[TeamMember]:
    qs: QuerySet[TeamMember] = (
        TeamMember.objects.restrict(user, "view").filter(team=team).select_related("user", "resident")
    )
    if not include_former:
        qs = qs.filter(Q(until__isnull=True) | Q(until__gte=timezone.localdate()))
    return leaders_first(qs)


def leaders_first(qs: QuerySet[TeamMember]) -> QuerySet[TeamMember]:
    rank = SqlCase(
        When(role=TeamRole.LEADER, then=Value(0)), When(role=TeamRole.DEPUTY, then=Value(1)), default=Value(2)
    )
    return qs.order_by(rank, "since", "id")


def team_cases(user: Any, team: Unit) -> QuerySet[Case]:
    """Cases handled by the team (its unit), open ones first."""
    return (
        Case.objects.restrict(user, "view")
        .filter(unit=team)
        .select_related("category", "community", "assignee")
        .order_by(F("closed_at").asc(nulls_first=True), "-received_at", "-id")
    )


def patrols(user: Any, team: Unit | None = None) -> QuerySet[PatrolRecord]:
    qs: QuerySet[PatrolRecord] = PatrolRecord.objects.restrict(user, "view").select_related("team", "recorded_by")
    if team is not None:
        qs = qs.filter(team=team)
    return qs.order_by("-started_at", "-id")


def patrol(user: Any, pk: int, action: str = "view") -> PatrolRecord | None:
    return (
        PatrolRecord.objects.restrict(user, action)
        .select_related("team", "team__region", "recorded_by")
        .filter(pk=pk, team__kind__in=TEAM_KINDS)
        .first()
    )


# --- dispute resolution rate -----------------------------------------------------------------


@dataclass
class RateRow:
    key: Any
    label: str
    cases: int = 0
    disputes_closed: int = 0
    disputes_resolved: int = 0

    @property
    def rate(self) -> float | None:
        from fengqiao.cases.figures import Row

        return Row(
            disputes_closed=self.disputes_closed, disputes_resolved=self.disputes_resolved
        ).dispute_resolution_rate


def _dispute_counts() -> dict[str, Any]:
    """The case loop's own definition (``fengqiao.cases.figures``): disputes = reports and
    petitions closed; resolved = closed with the outcome "resolved"."""
    from fengqiao.cases.figures import aggregates

    counts = aggregates(timezone.now(), [])
    return {name: counts[name] for name in ("disputes_closed", "disputes_resolved")}


def dispute_rates(user: Any, group: str, start: datetime.date, end: datetime.date, kind: str = "") -> list[RateRow]:
    """Dispute resolution rate of the cases handled by teams (received from ``start`` to ``end``),
    grouped by team, street or community of the case; one grouped query."""
    tz = timezone.get_current_timezone()
    since = datetime.datetime.combine(start, datetime.time.min, tzinfo=tz)
    until = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    qs: QuerySet[Case] = Case.objects.restrict(user, "view").filter(
        unit__kind__in=[kind] if kind in TEAM_KINDS else TEAM_KINDS, received_at__gte=since, received_at__lt=until
    )
    counts = {"cases": Count("id"), **_dispute_counts()}
    if group == "team":
        rows = list(qs.values("unit_id").annotate(**counts).order_by())
        names = dict(Unit.objects.filter(pk__in=[r["unit_id"] for r in rows]).values_list("pk", "name"))
        result = [
            RateRow(r["unit_id"], names.get(r["unit_id"], ""), r["cases"], r["disputes_closed"], r["disputes_resolved"])
            for r in rows
        ]
    else:
        digits = STREET_DIGITS if group == "street" else COMMUNITY_DIGITS
        rows = list(qs.annotate(area=Substr("region_path", 1, digits)).values("area").annotate(**counts).order_by())
        labels = dict(Region.objects.current().filter(path__in=[r["area"] for r in rows]).values_list("path", "name"))
        result = [
            RateRow(
                r["area"], labels.get(r["area"], r["area"]), r["cases"], r["disputes_closed"], r["disputes_resolved"]
            )
            for r in rows
        ]
    return sorted(result, key=lambda row: (-row.disputes_closed, row.label))


def total(rows: list[RateRow]) -> RateRow:
    whole = RateRow(None, "")
    for row in rows:
        whole.cases += row.cases
        whole.disputes_closed += row.disputes_closed
        whole.disputes_resolved += row.disputes_resolved
    return whole
