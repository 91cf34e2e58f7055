"""The deadline sweeper: reminders, overdue escalation, and recomputing deadlines after a calendar change.

``sweep(now=None) -> SweepResult`` runs every 60 s as the task
``sweep_deadlines`` (``settings.FENGQIAO_SCHEDULE``). One pass:

1. **Reminders.** One query reads the clocks of the open, not suspended cases
   (id, start, deadlines, suspended days, updated_at). For each running clock —
   first response (received → ``first_response_due``, until
   ``first_responded_at``) and resolution (clock start → ``resolution_due``,
   until ``resolved_at``) — the share of working time used is computed in
   memory over one calendar snapshot (``fengqiao.workdays.deadlines``: O(1)
   per timestamp). The working days a case spent suspended are left out, so
   a resumed case continues from where it stopped. When the largest reminder
   fraction reached (system parameter ``case.reminder_fractions``, default
   [0.5, 0.8]) was reached since the previous sweep (or the case changed since
   then), the assignee — else the members of the handling unit, else of the
   triage centre — get one notification with the key
   ``case:{id}:remind:{fraction}:{due}`` (first-response clock:
   ``case:{id}:remind_response:{fraction}:{due}``). The key contains the
   deadline, so a recomputed deadline re-arms the reminders; a fraction
   superseded by a larger one is not sent late. The last fraction also raises
   a "deadline approaching" duty alert; a first response that is overdue raises
   an "overdue" alert and a notification. Each reminder is a (non-public)
   ``remind`` event on the case's timeline.
2. **Escalation.** Open, unresolved, not suspended cases past ``resolution_due``
   and not yet escalated are escalated once: ``overdue_escalated_at`` and
   ``supervised`` are set, an ``overdue_escalate`` case event is written, an
   "overdue" duty alert raised, and the supervising centre (the centre above the
   handling centre; for a department or police station, the centre of its
   region) and the handler are notified. Done in batches of rows locked with
   ``select_for_update(skip_locked=True)`` on PostgreSQL, so two workers never
   escalate the same case; on SQLite writers are serialised anyway.

Everything is written set-based (``bulk_create`` with ``ignore_conflicts``,
``update``; the escalation writes plain tuples through
``fengqiao.notifications.services.insert_rows``, 5,000 cases per batch): no
query and, for the escalation, no model instance per case. Idempotent: notifications and alerts carry
unique keys, escalation is guarded by ``overdue_escalated_at``, so a second
sweep — or a second worker at the same moment — adds nothing.

"Since the previous sweep" is the watermark kept in Django's cache (shared
with Redis); without one (first run, restart with the local-memory cache) the
sweep looks back ``CATCHUP`` (24 hours), and keys already used are not sent again.

``recompute_open_deadlines(years, dates=None)`` is connected to
``fengqiao.workdays.signals.calendar_changed`` (through the task
``recompute_deadlines_after_calendar_change``): open cases whose deadlines
could depend on the changed days get ``deadlines.recompute`` again.

``open_deadline_years()`` feeds the calendar warnings on the duty console
(``settings.FENGQIAO_DEADLINE_YEAR_SOURCES``).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, FloatField, Func, Q
from django.db.models.functions import Coalesce, ExtractYear
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from fengqiao.audit.models import Category as AuditCategory
from fengqiao.audit.services import record
from fengqiao.notifications import texts
from fengqiao.system.selectors import get_parameter
from fengqiao.units.models import Unit, UnitKind
from fengqiao.workdays.deadlines import DAY_SECONDS, Calendar, load_calendar
from fengqiao.workdays.signals import calendar_changed

from .models import OPEN_STATES, Case, CaseEvent, DutyAlert

logger = logging.getLogger(__name__)

DEFAULT_FRACTIONS = (0.5, 0.8)
BATCH = 500
ESCALATION_BATCH = 5000  # overdue cases locked and escalated per transaction
CATCHUP = datetime.timedelta(hours=24)
MARGIN = datetime.timedelta(minutes=2)  # overlap between sweeps: clocks of two workers may differ a little
WATERMARK_KEY = "fengqiao:cases:sweep:watermark"
WATERMARK_SECONDS = 7 * 24 * 3600
SWEEPER_LABEL = texts.SWEEPER


@dataclass
class SweepResult:
    checked: int = 0  # clocks looked at
    reminders: int = 0  # reminders decided (cases × clock)
    notifications: int = 0  # notification rows created
    alerts: int = 0  # duty alerts created
    escalated: int = 0
    escalated_numbers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["escalated_numbers"] = data["escalated_numbers"][:200]
        return data


def reminder_fractions() -> list[float]:
    """``case.reminder_fractions`` as sorted fractions strictly between 0 and 1 (the default if unusable)."""
    raw = get_parameter("case.reminder_fractions", list(DEFAULT_FRACTIONS))
    try:
        values = sorted({round(float(v), 4) for v in raw if not isinstance(v, bool) and 0 < float(v) < 1})
    except (TypeError, ValueError):
        values = []
    if not values:
        logger.warning("case.reminder_fractions %r is unusable; using %s", raw, DEFAULT_FRACTIONS)
        return list(DEFAULT_FRACTIONS)
    return values


# --- who hears about it ----------------------------------------------------------------------


class _People:
    """Active users of units, with their permissions, read once per sweep for all the units needed."""

    def __init__(self, unit_ids: Iterable[int | None]) -> None:
        from fengqiao.accounts.models import User

        ids = {u for u in unit_ids if u is not None}
        self.by_unit: dict[int, list[Any]] = {}
        self._members: dict[tuple[int | None, str], list[int]] = {}
        if ids:
            users = User.objects.filter(unit_id__in=ids, is_active=True).prefetch_related("roles__permissions")
            for user in users:
                if user.unit_id is not None:
                    self.by_unit.setdefault(user.unit_id, []).append(user)

    def members(self, unit_id: int | None, perm: str) -> list[int]:
        """Members holding ``perm``; all members when nobody holds it (someone must hear).

        Worked out once per (unit, permission): a batch asks the same question for many cases."""
        found = self._members.get((unit_id, perm))
        if found is None:
            people = self.by_unit.get(unit_id or 0, [])
            holders = [u.pk for u in people if u.has_perm(perm)]
            found = self._members[(unit_id, perm)] = holders or [u.pk for u in people]
        return found


def _handlers(row: dict[str, Any], people: _People) -> list[int]:
    if row["assignee_id"]:
        return [row["assignee_id"]]
    if row["unit_id"]:
        return people.members(row["unit_id"], "cases.handle_case")
    return people.members(row["triage_unit_id"], "cases.triage_case")


class _Centres:
    """Active governance centres by region path (one query), for finding the supervising centre."""

    def __init__(self) -> None:
        self.by_path: dict[str, int] = {}
        rows = Unit.objects.filter(kind=UnitKind.CENTRE, is_active=True).order_by("id")
        for pk, path in rows.values_list("pk", "region_path"):
            self.by_path.setdefault(path, pk)
        self.units = {pk: (kind, path) for pk, kind, path in Unit.objects.values_list("pk", "kind", "region_path")}

    def supervising(self, unit_id: int | None) -> int | None:
        """The centre above a centre; a department's (police station's …) own region's centre."""
        if unit_id is None or unit_id not in self.units:
            return None
        kind, path = self.units[unit_id]
        lengths = (15, 12, 9, 6, 4, 2)
        if kind == UnitKind.CENTRE:
            candidates = [path[:n] for n in lengths if n < len(path)]
        else:
            candidates = [path[:n] for n in lengths if n <= len(path)]
        for candidate in candidates:
            centre = self.by_path.get(candidate)
            if centre is not None:
                return centre
        return unit_id if kind == UnitKind.CENTRE else None  # the top centre supervises itself


# --- the sweep -------------------------------------------------------------------------------------


def _watermark(now: datetime.datetime) -> datetime.datetime:
    stamp = cache.get(WATERMARK_KEY)
    if isinstance(stamp, str):
        try:
            last = datetime.datetime.fromisoformat(stamp)
        except ValueError:
            last = None
        if last is not None and last <= now:
            return max(last - MARGIN, now - CATCHUP)
    return now - CATCHUP


class Epoch(Func):
    """Seconds since 1970-01-01 UTC of a datetime column, as a float (cheap to read in bulk)."""

    output_field = FloatField()
    arity = 1

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra)


def _fraction(cal: Calendar, start: float, due: float, at: float, paused: int) -> float:
    """Share of the working time from ``start`` to ``due`` used at ``at`` (epoch seconds), without
    the ``paused`` working days the case spent suspended."""
    used_paused = paused * DAY_SECONDS
    begin = cal.working_time_epoch(start)
    total = cal.working_time_epoch(due) - begin - used_paused
    if total <= 0:
        return 1.0 if at >= due else 0.0
    return max(0.0, (cal.working_time_epoch(at) - begin - used_paused) / total)


def _reached(fractions: Sequence[float], value: float) -> float | None:
    reached = [f for f in fractions if f <= value]
    return reached[-1] if reached else None


@dataclass
class _Reminder:
    case_id: int
    number: str
    clock: str  # "resolution" | "response"
    fraction: float  # 1.0: overdue (first response only)
    due: datetime.datetime
    row: dict[str, Any]

    @property
    def key(self) -> str:
        due = stamp(self.due)
        if self.clock == "resolution":
            return f"case:{self.case_id}:remind:{self.fraction}:{due}"
        if self.fraction >= 1:
            return f"case:{self.case_id}:response_overdue:{due}"
        return f"case:{self.case_id}:remind_response:{self.fraction}:{due}"


_CLOCK_FIELDS = (
    "pk",
    "number",
    "state",
    "region_path",
    "received_at",
    "clock_started_at",
    "first_response_due",
    "first_responded_at",
    "resolution_due",
    "resolved_at",
    "suspended_days",
    "updated_at",
    "assignee_id",
    "unit_id",
    "triage_unit_id",
)


def _find_reminders(
    now: datetime.datetime, since: datetime.datetime, cal: Calendar, fractions: Sequence[float], result: SweepResult
) -> list[_Reminder]:
    """The reminders due in this sweep.

    Pass 1 reads only numbers (epoch seconds, flags) of every running clock and computes the
    fractions; pass 2 reads the details of the few cases that need a reminder.
    """
    running = Q(resolved_at__isnull=True, resolution_due__isnull=False) | Q(
        first_responded_at__isnull=True, first_response_due__isnull=False
    )
    # deadlines that passed before the window ended their reminders already (overdue is step 2),
    # unless the case changed since (a recomputed deadline)
    live = Q(resolution_due__gte=since) | Q(first_response_due__gte=since) | Q(updated_at__gte=since)
    rows = (
        Case.objects.filter(state__in=OPEN_STATES, suspended_at__isnull=True, received_at__lte=now)
        .filter(running)
        .filter(live)
        .annotate(
            e_received=Epoch("received_at"),
            e_start=Epoch(Coalesce("clock_started_at", "received_at")),
            e_response_due=Epoch("first_response_due"),
            e_resolution_due=Epoch("resolution_due"),
            e_updated=Epoch("updated_at"),
            response_running=ExpressionWrapper(Q(first_responded_at__isnull=True), output_field=BooleanField()),
            resolution_running=ExpressionWrapper(Q(resolved_at__isnull=True), output_field=BooleanField()),
        )
        .values_list(
            "pk",
            "e_received",
            "e_start",
            "e_response_due",
            "e_resolution_due",
            "e_updated",
            "response_running",
            "resolution_running",
            "suspended_days",
        )
        .iterator(chunk_size=10000)
    )
    t_now, t_since = now.timestamp(), since.timestamp()
    response_levels = [*fractions, 1.0]
    wanted: list[tuple[int, str, float]] = []
    for pk, received, start, response_due, resolution_due, updated, response_on, resolution_on, paused in rows:
        changed = updated >= t_since
        if resolution_on and resolution_due is not None:
            result.checked += 1
            value = _fraction(cal, start, resolution_due, t_now, paused)
            if value < 1:  # overdue: escalation (step 2)
                target = _reached(fractions, value)
                if target is not None and (changed or _fraction(cal, start, resolution_due, t_since, paused) < target):
                    wanted.append((pk, "resolution", target))
        if response_on and response_due is not None:
            result.checked += 1
            value = _fraction(cal, received, response_due, t_now, 0)
            target = _reached(response_levels, value)
            if target is not None and (changed or _fraction(cal, received, response_due, t_since, 0) < target):
                wanted.append((pk, "response", target))
    details: dict[int, dict[str, Any]] = {}
    ids = sorted({pk for pk, _clock, _target in wanted})
    for i in range(0, len(ids), 1000):
        for row in Case.objects.filter(pk__in=ids[i : i + 1000]).values(*_CLOCK_FIELDS):
            details[row["pk"]] = row
    found = []
    for pk, clock, target in wanted:
        row = details[pk]
        due = row["resolution_due"] if clock == "resolution" else row["first_response_due"]
        found.append(_Reminder(pk, row["number"], clock, target, due, row))
    return found


def _unsent(reminders: list[_Reminder]) -> list[_Reminder]:
    """Drop reminders whose key was used already (one query per 1000 keys)."""
    from fengqiao.notifications.models import Notification

    used: set[str] = set()
    keys = [r.key for r in reminders]
    for i in range(0, len(keys), 1000):
        used.update(
            k
            for k in Notification.objects.filter(dedupe_key__in=keys[i : i + 1000]).values_list("dedupe_key", flat=True)
            if k
        )
    return [r for r in reminders if r.key not in used]


def stamp(due: datetime.datetime) -> str:
    """A deadline in dedupe keys: local time, ISO 8601 (the same string whatever the database returns)."""
    return timezone.localtime(due).isoformat()


def _local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _send_reminders(
    reminders: list[_Reminder], now: datetime.datetime, fractions: Sequence[float], result: SweepResult
) -> None:
    from fengqiao.notifications.services import notify_many

    if not reminders:
        return
    people = _People(
        uid for r in reminders for uid in (r.row["unit_id"], r.row["triage_unit_id"]) if r.row["assignee_id"] is None
    )
    items: list[tuple[Any, str, str, str, str, str | None]] = []
    events: list[CaseEvent] = []
    alerts: list[DutyAlert] = []
    last = max(fractions)
    for r in reminders:
        url = f"/cases/{r.number}/"
        percent = round(r.fraction * 100)
        if r.clock == "response" and r.fraction >= 1:
            kind = "case.response_overdue"
            subject = _(texts.RESPONSE_OVERDUE) % {"number": r.number}
            body = _(texts.RESPONSE_OVERDUE_BODY) % {"due": _local(r.due)}
        elif r.clock == "response":
            kind = "case.remind"
            subject = _(texts.RESPONSE_REMIND) % {
                "number": r.number,
                "percent": percent,
            }
            body = _(texts.RESPONSE_REMIND_BODY) % {"due": _local(r.due)}
        else:
            kind = "case.remind"
            subject = _(texts.RESOLUTION_REMIND) % {
                "number": r.number,
                "percent": percent,
            }
            body = _(texts.RESOLUTION_REMIND_BODY) % {"due": _local(r.due)}
        for user_id in _handlers(r.row, people):
            items.append((user_id, kind, subject, body, url, r.key))
        events.append(
            CaseEvent(
                case_id=r.case_id,
                at=now,
                action="remind",
                from_state=r.row["state"],
                to_state=r.row["state"],
                actor_label=str(_(SWEEPER_LABEL))[:100],
                public=False,
                note=subject,
                data={"clock": r.clock, "fraction": r.fraction, "due": stamp(r.due)},
            )
        )
        alert_kind = None
        if r.clock == "resolution" and r.fraction >= last:
            alert_kind, alert_key = DutyAlert.Kind.DUE_SOON, f"due_soon:{r.case_id}:{stamp(r.due)}"
        elif r.clock == "response" and r.fraction >= 1:
            alert_kind, alert_key = DutyAlert.Kind.OVERDUE, f"response_overdue:{r.case_id}:{stamp(r.due)}"
        if alert_kind is not None:
            alerts.append(
                DutyAlert(
                    case_id=r.case_id,
                    kind=alert_kind,
                    region_path=r.row["region_path"],
                    unit_id=r.row["unit_id"] or r.row["triage_unit_id"],
                    dedupe_key=alert_key[:120],
                    created_at=now,
                )
            )
    with transaction.atomic():
        result.notifications += notify_many(items)
        CaseEvent.objects.bulk_create(events, batch_size=BATCH)
        result.alerts += _create_alerts(alerts)
    result.reminders += len(reminders)


def _create_alerts(alerts: list[DutyAlert]) -> int:
    if not alerts:
        return 0
    keys = [a.dedupe_key for a in alerts]
    before = set(DutyAlert.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    DutyAlert.objects.bulk_create(alerts, ignore_conflicts=True, batch_size=BATCH)
    return len(set(keys) - before)


_ESCALATION_FIELDS = (
    "pk",
    "number",
    "state",
    "region_path",
    "resolution_due",
    "assignee_id",
    "unit_id",
    "triage_unit_id",
)
_EVENT_COLUMNS = ("case", "at", "action", "from_state", "to_state", "actor_label", "public", "note", "data")
_ALERT_COLUMNS = ("case", "kind", "region_path", "unit", "dedupe_key", "created_at")


def _escalate(now: datetime.datetime, result: SweepResult) -> None:
    """Step 2: escalate the overdue cases, batch by batch (keyset over the locked rows).

    Per batch: one locking read of the few columns needed, one UPDATE, and the events and alerts written
    with ``insert_rows`` (plain tuples, no model instances; on PostgreSQL one statement per table; the
    note, the key and ``data`` carry the case's own deadline), the notifications through ``notify_many``
    with the recipients resolved once per (unit, permission).
    """
    from fengqiao.notifications.services import insert_rows, notify_many

    centres: _Centres | None = None
    overdue = Q(
        state__in=OPEN_STATES,
        suspended_at__isnull=True,
        resolved_at__isnull=True,
        resolution_due__lt=now,
        overdue_escalated_at__isnull=True,
    )
    skip_locked = connection.features.has_select_for_update_skip_locked
    label = str(_(SWEEPER_LABEL))[:100]
    body_text, escalated_text, overdue_text = _(texts.OVERDUE_BODY), _(texts.OVERDUE_ESCALATED), _(texts.OVERDUE)
    last_pk = 0  # keyset: never re-scan the rows already escalated in this pass
    while True:
        with transaction.atomic():
            qs = Case.objects.filter(overdue, pk__gt=last_pk).order_by("pk")
            if skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            rows = list(qs.values_list(*_ESCALATION_FIELDS)[:ESCALATION_BATCH])
            if not rows:
                return
            ids = [row[0] for row in rows]
            last_pk = ids[-1]
            Case.objects.filter(pk__in=ids, overdue_escalated_at__isnull=True).update(
                overdue_escalated_at=now, supervised=True
            )
            centres = centres or _Centres()
            supervising = {
                unit: centres.supervising(unit) for unit in {row[6] or row[7] for row in rows}
            }  # per handling (else triage) unit
            people = _People([*supervising.values(), *(row[6] for row in rows), *(row[7] for row in rows)])
            items: list[tuple[Any, str, str, str, str, str | None]] = []
            events: list[tuple[Any, ...]] = []
            alerts: list[tuple[Any, ...]] = []
            for pk, number, state, region_path, due, assignee_id, unit_id, triage_unit_id in rows:
                local = timezone.localtime(due)
                due_stamp = local.isoformat()  # = stamp(due)
                key = f"case:{pk}:overdue:{due_stamp}"
                url = f"/cases/{number}/"
                centre = supervising[unit_id or triage_unit_id]
                body = body_text % {"due": local.strftime("%Y-%m-%d %H:%M")}  # = _local(due)
                if centre is not None:
                    subject = escalated_text % {"number": number}
                    for user_id in people.members(centre, "cases.supervise_case"):
                        items.append((user_id, "case.overdue_escalated", subject, body, url, key))
                if assignee_id:
                    handlers = [assignee_id]
                elif unit_id:
                    handlers = people.members(unit_id, "cases.handle_case")
                else:
                    handlers = people.members(triage_unit_id, "cases.triage_case")
                handler_subject = overdue_text % {"number": number}
                for user_id in handlers:
                    items.append((user_id, "case.overdue", handler_subject, body, url, key))
                data = {"due": due_stamp, "supervising_unit": centre}
                events.append((pk, now, "overdue_escalate", state, state, label, False, body, data))
                alert_unit = centre or unit_id or triage_unit_id
                alert_key = f"overdue:{pk}:{due_stamp}"[:120]
                alerts.append((pk, DutyAlert.Kind.OVERDUE.value, region_path, alert_unit, alert_key, now))
                result.escalated_numbers.append(number)
            insert_rows(CaseEvent, _EVENT_COLUMNS, events)
            result.alerts += insert_rows(DutyAlert, _ALERT_COLUMNS, alerts, ignore_conflicts=True)
            result.notifications += notify_many(items)
            result.escalated += len(rows)


def sweep(now: datetime.datetime | None = None, *, since: datetime.datetime | None = None) -> SweepResult:
    """One pass over the open cases' clocks (see the module docstring). Safe to run twice, or twice at once."""
    started = time.monotonic()
    now = now or timezone.now()
    since = since if since is not None else _watermark(now)
    result = SweepResult()
    cal = load_calendar()
    fractions = reminder_fractions()
    reminders = _unsent(_find_reminders(now, since, cal, fractions, result))
    for i in range(0, len(reminders), BATCH):
        _send_reminders(reminders[i : i + BATCH], now, fractions, result)
    _escalate(now, result)
    cache.set(WATERMARK_KEY, now.isoformat(), WATERMARK_SECONDS)
    result.seconds = round(time.monotonic() - started, 3)
    if result.notifications or result.escalated or result.alerts:
        record(
            "cases.sweep",
            category=AuditCategory.SYSTEM,
            actor_name=str(_(SWEEPER_LABEL)),
            detail=result.as_dict(),
        )
    return result


@task
def sweep_deadlines() -> dict[str, Any]:
    """The periodic task (every 60 s, ``settings.FENGQIAO_SCHEDULE``)."""
    return sweep().as_dict()


# --- after a calendar change ------------------------------------------------------------------------


def recompute_open_deadlines(years: Iterable[int], dates: Iterable[datetime.date] | None = None) -> int:
    """Recompute the deadlines of open cases that may depend on the changed ``years`` (or ``dates``).

    A deadline depends on the days from the case's receipt to the deadline itself, so only cases
    received before the last changed day whose (first-response or resolution) deadline is on or
    after the first changed day are recomputed. Returns how many cases got a new deadline.
    """
    from .services import recompute_deadlines

    tz = timezone.get_default_timezone()
    day_list = sorted(dates) if dates else None
    year_list = sorted({int(y) for y in years})
    if day_list:
        first, last = day_list[0], day_list[-1]
    elif year_list:
        first, last = datetime.date(year_list[0], 1, 1), datetime.date(year_list[-1], 12, 31)
    else:
        return 0
    lo = datetime.datetime.combine(first, datetime.time.min, tzinfo=tz)
    hi = datetime.datetime.combine(last, datetime.time.max, tzinfo=tz)
    affected = Case.objects.filter(state__in=OPEN_STATES, received_at__lte=hi).filter(
        Q(resolution_due__gte=lo) | Q(first_response_due__gte=lo) | Q(resolution_due__isnull=True)
    )
    fields = ("pk", "first_response_due", "resolution_due")
    before = {row[0]: row[1:] for row in affected.values_list(*fields)}
    changed = recompute_deadlines(Case.objects.filter(pk__in=list(before)))
    if changed:
        moved = [
            pk
            for pk, *dues in Case.objects.filter(pk__in=list(before)).values_list(*fields)
            if tuple(dues) != before[pk]
        ]
        # a new deadline re-arms the reminders: the sweeper re-examines cases changed since its last pass
        for i in range(0, len(moved), 1000):
            Case.objects.filter(pk__in=moved[i : i + 1000]).update(updated_at=timezone.now())
        record(
            "cases.deadlines.recompute",
            category=AuditCategory.SYSTEM,
            actor_name=str(_(SWEEPER_LABEL)),
            detail={"years": year_list, "dates": [d.isoformat() for d in day_list or []], "changed": changed},
        )
    return changed


@task
def recompute_deadlines_after_calendar_change(years: list[int], dates: list[str] | None = None) -> int:
    return recompute_open_deadlines(years, [datetime.date.fromisoformat(d) for d in dates] if dates else None)


@receiver(calendar_changed, dispatch_uid="cases.recompute_deadlines")
def _on_calendar_changed(
    sender: Any, years: Sequence[int] = (), dates: Sequence[datetime.date] | None = None, **kwargs: Any
) -> None:
    """The calendar changed (after its commit): recompute open deadlines in the background."""
    try:
        recompute_deadlines_after_calendar_change.enqueue(
            list(years), [d.isoformat() for d in dates] if dates else None
        )
    except Exception:
        logger.exception("enqueueing the deadline recomputation failed; recomputing now")
        recompute_open_deadlines(years, dates)


# --- for the calendar warnings ------------------------------------------------------------------------


def open_deadline_years() -> dict[int, int]:
    """``{year: open cases with a deadline in it}`` (local years), for ``calendar_warnings``."""
    open_cases = Case.objects.filter(state__in=OPEN_STATES)
    years: set[int] = set()
    for field_name in ("resolution_due", "first_response_due"):
        years.update(
            int(y)
            for y in open_cases.filter(**{f"{field_name}__isnull": False})
            .annotate(year=ExtractYear(field_name))
            .values_list("year", flat=True)
            .distinct()
        )
    tz = timezone.get_default_timezone()
    result: dict[int, int] = {}
    for year in sorted(years):
        lo, hi = datetime.datetime(year, 1, 1, tzinfo=tz), datetime.datetime(year + 1, 1, 1, tzinfo=tz)
        result[year] = open_cases.filter(
            Q(resolution_due__gte=lo, resolution_due__lt=hi) | Q(first_response_due__gte=lo, first_response_due__lt=hi)
        ).count()
    return result
