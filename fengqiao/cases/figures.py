"""Figures of the closed loop (受理, 办结, 办结率, 按期办结率, 满意率 …), within the user's data scope.

**What is counted.** Every figure is over one cohort: the cases *received in the
chosen period* (and matching the region / category / kind filters) that the
user may see (the scope of ``Case.objects.restrict(user, "view")``). Recent
cohorts are naturally less complete; the page says so. For each group (the
whole, a handling unit, a street or community by region-path prefix, a
category, a day / week / month of receipt):

- received: every case of the cohort; accepted (受理): without those not
  accepted (rejected as out of scope) and duplicates merged into another case;
- completed (办结): accepted cases now closed; completion rate = completed / accepted;
- on-time rate = closed on time / (closed + open overdue) — DESIGN-NOTES: open
  cases past their deadline count as late; "on time" = the handler's feedback
  (``resolved_at``) no later than ``resolution_due``; a suspended case is not overdue;
- satisfaction rate = ratings of 4 or 5 / rated cases;
- dispute resolution rate: reports and petitions closed with outcome "resolved" / closed;
- average handling time (receipt → resolution, closed cases): in hours, and in
  working days counted like ``fengqiao.workdays.deadlines.working_days_between``
  (working days after the day of receipt up to and including the day of
  resolution). The working days are computed in SQL: Monday–Friday by
  arithmetic on the day number, corrected by the calendar's exceptions
  (holidays on weekdays, make-up working days on weekends) with a piecewise
  constant ``CASE`` (a binary search over the exceptions since the period's start);
- first-response on-time rate = first responses in time / (responses + open cases
  whose first-response deadline has passed without one).

**How it stays fast** (``bench/cases_figures.py``: 1,000,000 cases). Plain
GROUP BYs over the cases cost ~0.6 s per table for a district's year (~300,000
cases), so whole months come from a monthly rollup (``CaseFigureMonth``: one
row per month × community × handling unit × category × kind, ~26,000 rows for
that year), maintained by the periodic task ``refresh_figures``
(``refresh_rollup``: it recomputes only the months of cases changed since its
last run, and of open cases whose deadline passed since). The page never shows
stale numbers: the months touched since the last refresh (cases written, or
open cases whose deadline or first-response deadline passed since: no write
marks those), and partial months of a custom period are counted live from the cases, in one
GROUP BY (month × community × unit × category × kind) rolled up in Python; the
clean whole months with one GROUP BY per table over the rollup. Users whose
scope the rollup cannot express (grids they are responsible for, own records)
are counted live. A day or week trend is one live GROUP BY over the period.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Case as SqlCase
from django.db.models import (
    Count,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models import When as SqlWhen
from django.db.models.expressions import Combinable
from django.db.models.functions import Least, Mod, Substr, Trunc, TruncDate
from django.db.models.lookups import LessThan
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django_tasks import task

from fengqiao.core.scope import DataScope, ScopeSpec, scope_q
from fengqiao.regions.models import Region
from fengqiao.units.models import Unit
from fengqiao.workdays.models import CalendarDay

from .figures_models import CaseFigureMonth, CaseFigureRefresh
from .models import OPEN_STATES, Case, CaseKind, CaseState, Category

PERIODS = ("day", "week", "month")
GROUPS = ("unit", "street", "community", "category", "period")
EPOCH = datetime.date(2000, 1, 3)  # a Monday: day number 0
STREET_DIGITS, COMMUNITY_DIGITS = 9, 12
#: overlap with the previous refresh (a transaction may commit a little after its rows' updated_at)
MARGIN = datetime.timedelta(minutes=2)
#: a first-response deadline passes at most this long after receipt (15 days for petitions, plus holidays)
RESPONSE_WINDOW = datetime.timedelta(days=31)
#: a complete rebuild at least this often, even if no case was written
FULL_REBUILD_EVERY = datetime.timedelta(days=1)
VIEW_PERM = "cases.view_case"
ROLLUP_SPEC = ScopeSpec(region_path="community_path", unit="unit")
ROLLUP_SCOPES = frozenset({DataScope.ALL, DataScope.UNIT, DataScope.UNIT_AND_BELOW, DataScope.CUSTOM})
COUNTS = (
    "received",
    "accepted",
    "completed",
    "closed_on_time",
    "open_overdue",
    "rated",
    "satisfied",
    "disputes_closed",
    "disputes_resolved",
    "handled",
    "handling_workdays",
    "first_response_on_time",
    "first_response_due",
)
MEASURES = (*COUNTS, "handling_seconds")


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class FigureParams:
    """What to count: cases received from ``start`` to ``end`` (dates, both included, local time)."""

    start: datetime.date
    end: datetime.date
    period: str = "month"
    region: str = ""
    category_id: int | None = None
    kind: str = ""

    @property
    def start_at(self) -> datetime.datetime:
        return _midnight(self.start)

    @property
    def end_before(self) -> datetime.datetime:
        return _midnight(self.end + datetime.timedelta(days=1))


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=local_tz())


def default_params(today: datetime.date | None = None) -> FigureParams:
    """This year so far, by month."""
    today = today or timezone.localdate()
    return FigureParams(start=today.replace(month=1, day=1), end=today, period="month")


def auto_period(start: datetime.date, end: datetime.date) -> str:
    days = (end - start).days + 1
    return "day" if days <= 62 else "week" if days <= 190 else "month"


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass
class Row:
    """The figures of one group; ``key`` is what it was grouped by (None for the whole)."""

    key: Any = None
    label: str = ""
    received: int = 0
    accepted: int = 0
    completed: int = 0
    closed_on_time: int = 0
    open_overdue: int = 0
    rated: int = 0
    satisfied: int = 0
    disputes_closed: int = 0
    disputes_resolved: int = 0
    handled: int = 0
    handling_seconds: float = 0.0
    handling_workdays: int = 0
    first_response_on_time: int = 0
    first_response_due: int = 0

    @property
    def completion_rate(self) -> float | None:
        return _rate(self.completed, self.accepted)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.closed_on_time, self.completed + self.open_overdue)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.rated)

    @property
    def dispute_resolution_rate(self) -> float | None:
        return _rate(self.disputes_resolved, self.disputes_closed)

    @property
    def first_response_rate(self) -> float | None:
        return _rate(self.first_response_on_time, self.first_response_due)

    @property
    def avg_hours(self) -> float | None:
        return self.handling_seconds / 3600 / self.handled if self.handled else None

    @property
    def avg_workdays(self) -> float | None:
        return self.handling_workdays / self.handled if self.handled else None


@dataclass
class FigureSet:
    params: FigureParams
    total: Row
    groups: dict[str, list[Row]] = field(default_factory=dict)
    rollup_months: int = 0  # whole months read from the rollup
    live_days: int = 0  # days counted live from the cases


# --- SQL building blocks ----------------------------------------------------------------


class DayNumber(Func):
    """Days from 2000-01-03 (a Monday) to a date expression: an integer, on PostgreSQL and SQLite."""

    output_field = IntegerField()
    template = "(%(expressions)s - DATE '2000-01-03')"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="CAST(julianday(%(expressions)s) - 2451546.5 AS INTEGER)", **extra
        )


def calendar_exceptions(since: datetime.date, until: datetime.date) -> list[tuple[int, int]]:
    """``(day number, +1/-1)`` of the days that break the Monday–Friday rule, in date order:
    +1 a make-up working day on a weekend, -1 a holiday on a weekday."""
    rows = (
        CalendarDay.objects.filter(date__gte=since, date__lte=until)
        .filter(Q(is_workday=True, date__iso_week_day__gte=6) | Q(is_workday=False, date__iso_week_day__lte=5))
        .order_by("date")
        .values_list("date", "is_workday")
    )
    return [((day - EPOCH).days, 1 if workday else -1) for day, workday in rows]


def _piecewise(n: Any, bounds: Sequence[int], values: Sequence[int], integer: Any) -> Any:
    """``values[i]`` where ``bounds[i-1] <= n < bounds[i]``, as a balanced tree of CASEs (log depth)."""
    if len(values) == 1:
        return Value(values[0])
    mid = len(values) // 2
    return SqlCase(
        SqlWhen(LessThan(n, Value(bounds[mid - 1])), then=_piecewise(n, bounds[: mid - 1], values[:mid], integer)),
        default=_piecewise(n, bounds[mid:], values[mid:], integer),
        output_field=integer,
    )


def workdays_upto(field_name: str, exceptions: Sequence[tuple[int, int]]) -> Combinable:
    """Working days up to and including the local date of ``field_name``, counted from an epoch.

    Only differences are meaningful; exceptions before the earliest date compared cancel out.
    """
    integer: Any = IntegerField()
    n = DayNumber(TruncDate(field_name, tzinfo=local_tz()))
    after = n + Value(1)  # days 0..n
    weekdays = ExpressionWrapper(
        Value(5) * ExpressionWrapper(after / Value(7), output_field=integer)
        + Least(Mod(after, Value(7), output_field=integer), Value(5), output_field=integer),
        output_field=integer,
    )
    if not exceptions:
        return weekdays
    bounds = [day for day, _sign in exceptions]
    values, running = [0], 0
    for _day, sign in exceptions:
        running += sign
        values.append(running)
    return ExpressionWrapper(weekdays + _piecewise(n, bounds, values, integer), output_field=integer)


def aggregates(now: datetime.datetime, exceptions: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """The figures' definitions as annotations (also used by the teams' resolution rates)."""
    closed = Q(state=CaseState.CLOSED)
    accepted = ~Q(state__in=[CaseState.REJECTED, CaseState.MERGED])
    overdue = Q(state__in=OPEN_STATES, suspended_at__isnull=True, resolution_due__lt=now)
    on_time = closed & (Q(resolution_due__isnull=True) | Q(resolved_at__lte=F("resolution_due")))
    disputes = Q(kind__in=[CaseKind.REPORT, CaseKind.PETITION]) & closed
    handled = closed & Q(resolved_at__isnull=False)
    fr_in_time = Q(first_response_due__isnull=False, first_responded_at__lte=F("first_response_due"))
    fr_counted = Q(first_response_due__isnull=False) & (
        Q(first_responded_at__isnull=False)
        | Q(state__in=OPEN_STATES, first_responded_at__isnull=True, first_response_due__lt=now)
    )
    workdays = ExpressionWrapper(
        workdays_upto("resolved_at", exceptions) - workdays_upto("received_at", exceptions),
        output_field=IntegerField(),
    )
    return {
        "received": Count("id"),
        "accepted": Count("id", filter=accepted),
        "completed": Count("id", filter=closed),
        "closed_on_time": Count("id", filter=on_time),
        "open_overdue": Count("id", filter=overdue),
        "rated": Count("id", filter=Q(rating__isnull=False)),
        "satisfied": Count("id", filter=Q(rating__gte=4)),
        "disputes_closed": Count("id", filter=disputes),
        "disputes_resolved": Count("id", filter=disputes & Q(resolution_outcome="resolved")),
        "handled": Count("id", filter=handled),
        "handling_time": Sum(
            ExpressionWrapper(F("resolved_at") - F("received_at"), output_field=DurationField()), filter=handled
        ),
        "handling_workdays": Sum(workdays, filter=handled),
        "first_response_on_time": Count("id", filter=fr_in_time),
        "first_response_due": Count("id", filter=fr_counted),
    }


def _measures(values: dict[str, Any]) -> dict[str, Any]:
    """The aggregate columns as stored in the rollup (durations as seconds)."""
    duration = values.get("handling_time")
    # a timedelta; microseconds if a backend returns a number
    seconds = duration.total_seconds() if isinstance(duration, datetime.timedelta) else float(duration or 0) / 1e6
    result: dict[str, Any] = {name: int(values.get(name) or 0) for name in COUNTS}
    result["handling_seconds"] = seconds
    return result


# --- months ------------------------------------------------------------------------------


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def next_month(day: datetime.date) -> datetime.date:
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def months_between(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    months, month = [], month_start(start)
    while month <= end:
        months.append(month)
        month = next_month(month)
    return months


def _date_ranges(days: Iterable[tuple[datetime.date, datetime.date]]) -> list[tuple[datetime.date, datetime.date]]:
    """Merge adjacent or overlapping (first, last) date ranges."""
    merged: list[tuple[datetime.date, datetime.date]] = []
    for first, last in sorted(days):
        if merged and first <= merged[-1][1] + datetime.timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _received_in(ranges: Sequence[tuple[datetime.date, datetime.date]]) -> Q:
    q = Q(pk__in=[])
    for first, last in ranges:
        q |= Q(received_at__gte=_midnight(first), received_at__lt=_midnight(last + datetime.timedelta(days=1)))
    return q


# --- scope ----------------------------------------------------------------------------------


def rollup_scope(user: Any) -> Q | None:
    """The user's case scope as a filter on the rollup, or None when the rollup cannot express it
    (grids one is responsible for, own records, a unit below community level): count live then."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    if getattr(user, "is_superuser", False):
        return Q()
    spec = Case.scope_spec
    if (spec.region_path, spec.unit) != ("region_path", "unit"):
        return None
    for grant in user.get_grants(VIEW_PERM):
        if grant.scope not in ROLLUP_SCOPES:
            return None
        if grant.scope == DataScope.UNIT and grant.unit_id is None:
            return None
        paths = [p for _pk, p in grant.custom] if grant.scope == DataScope.CUSTOM else [grant.unit_path or ""]
        if grant.scope != DataScope.ALL and any(len(p) > COMMUNITY_DIGITS for p in paths):
            return None
    q = scope_q(user, VIEW_PERM, ROLLUP_SPEC)
    return Q(pk__in=[]) if q is None else q


# --- the cohort ------------------------------------------------------------------------------


def cohort(user: Any, params: FigureParams) -> QuerySet[Case]:
    """The cases the figures count: received in the period, filtered, within ``user``'s data scope."""
    qs: QuerySet[Case] = Case.objects.restrict(user, "view").filter(
        received_at__gte=params.start_at, received_at__lt=params.end_before
    )
    if params.region.isdigit():
        qs = qs.filter(region_path__under=params.region)
    if params.category_id:
        qs = qs.filter(category_id=params.category_id)
    if params.kind:
        qs = qs.filter(kind=params.kind)
    return qs


def _exceptions_since(start: datetime.date, now: datetime.datetime) -> list[tuple[int, int]]:
    return calendar_exceptions(start, timezone.localdate(now) + datetime.timedelta(days=1))


def _bucket(period: str) -> Any:
    return Trunc("received_at", period, output_field=DateField(), tzinfo=local_tz())


# --- the rollup --------------------------------------------------------------------------------


def watermark() -> datetime.datetime | None:
    return CaseFigureRefresh.objects.filter(key="default").values_list("watermark", flat=True).first()


def changed_months(since: datetime.datetime, now: datetime.datetime) -> set[datetime.date]:
    """Months of receipt whose figures may have changed since ``since``: cases written since then,
    and open cases whose deadline or first-response deadline passed since then (no write marks those).
    Each condition is an index range (updated_at; state + resolution_due; received_at)."""
    touched = Case.objects.filter(
        Q(updated_at__gte=since)
        | Q(state__in=OPEN_STATES, suspended_at__isnull=True, resolution_due__gte=since, resolution_due__lt=now)
        | Q(
            received_at__gte=since - RESPONSE_WINDOW,
            state__in=OPEN_STATES,
            first_responded_at__isnull=True,
            first_response_due__gte=since,
            first_response_due__lt=now,
        )
    )
    months = touched.annotate(m=_bucket("month")).order_by().values_list("m", flat=True).distinct()
    return {m for m in months if m is not None}


def _rebuild_month(month: datetime.date, now: datetime.datetime) -> int:
    rows = (
        Case.objects.filter(received_at__gte=_midnight(month), received_at__lt=_midnight(next_month(month)))
        .annotate(cpath=Substr("region_path", 1, COMMUNITY_DIGITS))
        .order_by()
        .values("cpath", "unit_id", "category_id", "kind")
        .annotate(**aggregates(now, _exceptions_since(month, now)))
    )
    CaseFigureMonth.objects.filter(month=month).delete()
    created = CaseFigureMonth.objects.bulk_create(
        (
            CaseFigureMonth(
                month=month,
                community_path=r["cpath"],
                unit_id=r["unit_id"],
                category_id=r["category_id"],
                kind=r["kind"],
                computed_at=now,
                **_measures(r),
            )
            for r in rows
        ),
        batch_size=1000,
    )
    return len(created)


def refresh_rollup(now: datetime.datetime | None = None, *, full: bool = False) -> dict[str, int]:
    """Bring the monthly rollup up to date: every month at the first run, once a day (a safety net
    for bulk updates that bypass ``updated_at``) or when ``full``; else the months changed since the
    previous run. Two workers at once: the second waits for the first, then finds little to do."""
    now = now or timezone.now()
    with transaction.atomic():
        state, _created = CaseFigureRefresh.objects.get_or_create(key="default", defaults={"watermark": now})
        state = CaseFigureRefresh.objects.select_for_update().get(pk=state.pk)
        full = full or _created or state.full_at is None or now - state.full_at >= FULL_REBUILD_EVERY
        if full:
            first = Case.objects.aggregate(first=Min("received_at"))["first"]
            months = set(months_between(timezone.localdate(first), timezone.localdate(now))) if first else set()
            CaseFigureMonth.objects.exclude(month__in=months).delete()
            state.full_at = now
        else:
            months = changed_months(state.watermark - MARGIN, now)
        rows = sum(_rebuild_month(month, now) for month in sorted(months))
        state.watermark = now
        state.save(update_fields=["watermark", "full_at"])
    return {"months": len(months), "rows": rows}


@task
def refresh_figures() -> dict[str, int]:
    """The periodic task that keeps the figures rollup current (``settings.FENGQIAO_SCHEDULE``)."""
    return refresh_rollup()


# --- computing a page -------------------------------------------------------------------------------


class _Tables:
    """Sums per group, keyed by the group's value, filled from the rollup and from live counts.

    Kept as plain lists of the ``MEASURES`` while adding (fast), turned into ``Row``s at the end.
    """

    def __init__(self, groups: Iterable[str]) -> None:
        self.sums: dict[str, dict[Any, list[float]]] = {g: {} for g in groups}
        self.total = [0.0] * len(MEASURES)

    @staticmethod
    def vector(values: dict[str, Any]) -> list[float]:
        return [float(values.get(name) or 0) for name in MEASURES]

    def add(self, group: str, key: Any, vector: list[float]) -> None:
        table = self.sums.get(group)
        if table is None:
            return
        current = table.get(key)
        table[key] = vector if current is None else [a + b for a, b in zip(current, vector, strict=True)]

    def add_total(self, vector: list[float]) -> None:
        self.total = [a + b for a, b in zip(self.total, vector, strict=True)]

    def add_fine(self, values: dict[str, Any], period_key: Any = None) -> None:
        """One live row grouped by unit × community × category × kind (× month)."""
        vector = self.vector(values)
        community = values["cpath"]
        self.add("unit", values["unit_id"], vector)
        self.add("community", community, vector)
        self.add("street", community[:STREET_DIGITS] if community else community, vector)
        self.add("category", values["category_id"], vector)
        if period_key is not None:
            self.add("period", period_key, vector)
        self.add_total(vector)

    @staticmethod
    def row(key: Any, vector: list[float]) -> Row:
        data: dict[str, Any] = {name: round(v) for name, v in zip(MEASURES, vector, strict=True)}
        data["handling_seconds"] = vector[MEASURES.index("handling_seconds")]
        return Row(key=key, **data)

    def rows(self, group: str) -> list[Row]:
        return [self.row(key, vector) for key, vector in self.sums[group].items()]


def _rollup_part(
    tables: _Tables, scope: Q, params: FigureParams, months: Sequence[datetime.date], monthly_trend: bool
) -> None:
    qs = CaseFigureMonth.objects.filter(scope, month__in=months)
    if params.region.isdigit():
        qs = qs.filter(community_path__under=params.region)
    if params.category_id:
        qs = qs.filter(category_id=params.category_id)
    if params.kind:
        qs = qs.filter(kind=params.kind)
    sums = {name: Sum(name) for name in MEASURES}
    parts = [("category", "category_id")]  # always: it also gives the totals
    if "unit" in tables.sums:
        parts.append(("unit", "unit_id"))
    if "community" in tables.sums or "street" in tables.sums:
        parts.append(("community", "community_path"))
    if monthly_trend and "period" in tables.sums:
        parts.append(("period", "month"))
    for group, column in parts:
        for values in qs.order_by().values(column).annotate(**sums):
            key, vector = values[column], tables.vector(values)
            tables.add(group, key, vector)
            if group == "community":
                tables.add("street", key[:STREET_DIGITS], vector)
            if group == "category":
                tables.add_total(vector)


def _live_part(
    tables: _Tables,
    user: Any,
    params: FigureParams,
    ranges: Sequence[tuple[datetime.date, datetime.date]],
    now: datetime.datetime,
    monthly_trend: bool,
) -> None:
    if not ranges:
        return
    keys = ["cpath", "unit_id", "category_id", "kind"]
    qs = cohort(user, params).filter(_received_in(ranges)).annotate(cpath=Substr("region_path", 1, COMMUNITY_DIGITS))
    if monthly_trend:
        qs = qs.annotate(bucket=_bucket("month"))
        keys.append("bucket")
    exceptions = _exceptions_since(ranges[0][0], now)
    for values in qs.order_by().values(*keys).annotate(**aggregates(now, exceptions)):
        tables.add_fine({**values, **_measures(values)}, values.get("bucket") if monthly_trend else None)


def _live_trend(tables: _Tables, user: Any, params: FigureParams, now: datetime.datetime) -> None:
    """A day or week trend: one live GROUP BY over the whole period."""
    qs = cohort(user, params).annotate(bucket=_bucket(params.period))
    exceptions = _exceptions_since(params.start, now)
    for values in qs.order_by().values("bucket").annotate(**aggregates(now, exceptions)):
        tables.add("period", values["bucket"], tables.vector(_measures(values)))


def _plan(
    user: Any, params: FigureParams, now: datetime.datetime
) -> tuple[Q | None, list[datetime.date], list[tuple[datetime.date, datetime.date]]]:
    """(rollup scope, whole months to read from the rollup, date ranges to count live)."""
    today = timezone.localdate(now)
    scope = rollup_scope(user)
    usable = scope is not None and (not params.region or len(params.region) <= COMMUNITY_DIGITS)
    mark = watermark() if usable else None
    clean: list[datetime.date] = []
    live: list[tuple[datetime.date, datetime.date]] = []
    dirty = changed_months(mark - MARGIN, now) if mark is not None else set()
    for month in months_between(params.start, params.end):
        last = next_month(month) - datetime.timedelta(days=1)
        first_day, last_day = max(params.start, month), min(params.end, last)
        if month > today or first_day > today:
            continue  # nothing received yet
        whole = first_day == month and (last_day == last or params.end >= today)
        if mark is not None and whole and month not in dirty:
            clean.append(month)
        else:
            live.append((first_day, min(last_day, today)))
    return scope, clean, _date_ranges(live)


def _labels(group: str, keys: Iterable[Any], params: FigureParams) -> dict[Any, str]:
    keys = [k for k in keys if k is not None]
    if group == "unit":
        return dict(Unit.objects.filter(pk__in=keys).values_list("pk", "name"))
    if group in ("street", "community"):
        return dict(Region.objects.filter(path__in=keys, valid_to__isnull=True).values_list("path", "name"))
    if group == "category":
        english = (get_language() or "").startswith("en")
        return {
            pk: (name_en if english and name_en else name)
            for pk, name, name_en in Category.objects.filter(pk__in=keys).values_list("pk", "name", "name_en")
        }
    if group == "period":
        return {k: period_label(k, params.period) for k in keys}
    return {}


def period_label(value: Any, period: str) -> str:
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value, local_tz()).date() if timezone.is_aware(value) else value.date()
    if not isinstance(value, datetime.date):
        return str(value)
    if period == "month":
        return f"{value:%Y-%m}"
    if period == "week":
        iso = value.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return value.isoformat()


def _sort(group: str, rows: list[Row]) -> list[Row]:
    if group in ("street", "community", "period"):
        return sorted(rows, key=lambda r: (r.key is None, r.key if r.key is not None else ""))
    return sorted(rows, key=lambda r: (-r.accepted, -r.received, r.label))


def figures(
    user: Any,
    params: FigureParams,
    *,
    groups: Iterable[str] = GROUPS,
    now: datetime.datetime | None = None,
) -> FigureSet:
    """The whole page: totals and one table per group (see the module docstring)."""
    now = now or timezone.now()
    if params.period not in PERIODS:
        params = replace(params, period=auto_period(params.start, params.end))
    wanted = [g for g in groups if g in GROUPS]
    tables = _Tables(wanted)
    monthly = params.period == "month"
    scope, clean, live = _plan(user, params, now)
    if clean and scope is not None:
        _rollup_part(tables, scope, params, clean, monthly)
    _live_part(tables, user, params, live, now, monthly)
    if "period" in wanted and not monthly:
        _live_trend(tables, user, params, now)
    result = FigureSet(params=params, total=_Tables.row(None, tables.total))
    result.total.label = _("Total")
    result.rollup_months = len(clean)
    result.live_days = sum((last - first).days + 1 for first, last in live)
    for group in wanted:
        rows = tables.rows(group)
        labels = _labels(group, (r.key for r in rows), params)
        for row in rows:
            row.label = labels.get(row.key) or (str(row.key) if row.key is not None else _("(none)"))
        result.groups[group] = _sort(group, rows)
    return result


def grouped(user: Any, params: FigureParams, group: str, *, now: datetime.datetime | None = None) -> list[Row]:
    """The figures per unit / street / community / category / period."""
    return figures(user, params, groups=(group,), now=now).groups[group]


def totals(user: Any, params: FigureParams, *, now: datetime.datetime | None = None) -> Row:
    return figures(user, params, groups=(), now=now).total


__all__ = [
    "FigureParams",
    "FigureSet",
    "Row",
    "cohort",
    "figures",
    "grouped",
    "refresh_figures",
    "refresh_rollup",
    "totals",
]
