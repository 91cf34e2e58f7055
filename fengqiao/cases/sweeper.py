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
   ``supervised`` are set, an ``overdue_escalate`` case event is written on the
   case's timeline, an "overdue" duty alert raised, and the supervising centre
   (the centre above the handling centre; for a department or police station,
   the centre of its region) and the handler are notified. The candidates are
   read once (ids), then escalated ``ESCALATION_BATCH`` per transaction, the rows
   locked again with the condition re-checked (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), so two workers never escalate the same case; on SQLite writers
   are serialised anyway.

   **Digests.** When a backlog goes overdue at once, nobody is helped by
   thousands of messages: whoever would get more than ``DIGEST_AFTER`` overdue
   notifications in one batch gets one digest instead (``case.overdue_digest``:
   the count, the first tracking numbers, a link to the list of overdue cases),
   and a centre that would get more than ``DIGEST_AFTER`` duty alerts gets one
   alert with ``case=None`` and ``case_count`` (the duty console shows the count
   and links to the list). Each case still gets its own event. A few overdue
   cases are alerted and notified one by one, as before.

On PostgreSQL a batch of the escalation is one statement (``_ESCALATE_SQL``:
lock, UPDATE … RETURNING, the events and alerts inserted from it in the same
statement; only the columns the notifications need come back to Python).
Elsewhere (SQLite) ``_escalate_batch_rows`` does the same with a read, an update
and plain-row inserts (``fengqiao.notifications.services.insert_rows``). The
reminders are written set-based too (``bulk_create`` with ``ignore_conflicts``).
Idempotent: notifications and alerts carry unique keys, escalation is guarded
by ``overdue_escalated_at`` (set in the transaction that writes the event, the
alert and the notifications), so a second sweep — or a second worker at the
same moment — adds nothing.

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
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, FloatField, Func, Q
from django.db.models.functions import Coalesce, ExtractYear
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
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
ESCALATION_BATCH = 20000  # overdue cases locked and escalated per transaction (bench: 5,000 was slower)
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


# --- step 2: escalation ----------------------------------------------------------------------------

# more overdue cases than this in one batch for one person (one centre): one digest notification (alert) instead
DIGEST_AFTER = 20
DIGEST_NUMBERS = 10  # tracking numbers named in a digest
OVERDUE_DIGEST_SUPERVISE = gettext_noop("%(count)d overdue cases were escalated to your centre for supervision")
OVERDUE_DIGEST_HANDLE = gettext_noop("%(count)d cases you handle are overdue")
OVERDUE_DIGEST_BODY = gettext_noop("Among them: %(numbers)s. The link opens the list of overdue cases.")

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
_ALERT_COLUMNS = ("case", "case_count", "kind", "region_path", "unit", "dedupe_key", "created_at")

# one escalated case, as both paths return it: (pk, number, assignee_id, unit_id, triage_unit_id,
# supervising centre, deadline stamp (``stamp(due)``), deadline as shown (``_local(due)``))
_Escalated = tuple[int, str, int | None, int | None, int | None, int | None, str, str]


def _overdue(now: datetime.datetime) -> Q:
    return Q(
        state__in=OPEN_STATES,
        suspended_at__isnull=True,
        resolved_at__isnull=True,
        resolution_due__lt=now,
        overdue_escalated_at__isnull=True,
    )


def _split(template: str) -> tuple[str, str]:
    """``template`` (with one ``%(due)s``) as the text before and after the deadline."""
    before, _sep, after = (template % {"due": "\x00"}).partition("\x00")
    return before, after


# PostgreSQL: one statement per batch. The rows are locked (skip-locked: another worker's rows are
# left to it), escalated, and their events and alerts written from the UPDATE's RETURNING; only the
# few columns needed for the notifications come back. The deadline's stamp is the one ``stamp()``
# makes in Python (local ISO 8601, microseconds only when not zero), so keys match the other path.
_ESCALATE_SQL = """
WITH picked AS (
    SELECT id FROM cases_case
    WHERE id = ANY(%(ids)s::bigint[]) AND state = ANY(%(open)s::varchar[]) AND suspended_at IS NULL
      AND resolved_at IS NULL AND resolution_due < %(now)s AND overdue_escalated_at IS NULL
    FOR UPDATE SKIP LOCKED
), escalated AS (
    UPDATE cases_case c SET overdue_escalated_at = %(now)s, supervised = true
    FROM picked WHERE c.id = picked.id
    RETURNING c.id, c.number, c.state, c.region_path, c.assignee_id, c.unit_id, c.triage_unit_id,
              c.resolution_due AT TIME ZONE %(tz)s AS local_due,
              extract(epoch FROM (c.resolution_due AT TIME ZONE %(tz)s)
                                 - (c.resolution_due AT TIME ZONE 'UTC'))::int / 60 AS offset_minutes
), escalated_rows AS (
    SELECT e.id, e.number, e.state, e.region_path, e.assignee_id, e.unit_id, e.triage_unit_id, s.centre,
           to_char(e.local_due, 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN date_part('microseconds', e.local_due)::bigint %% 1000000 <> 0
                   THEN to_char(e.local_due, '.US') ELSE '' END
           || CASE WHEN e.offset_minutes < 0 THEN '-' ELSE '+' END
           || lpad((abs(e.offset_minutes) / 60)::text, 2, '0') || ':'
           || lpad((abs(e.offset_minutes) %% 60)::text, 2, '0') AS stamp,
           to_char(e.local_due, 'YYYY-MM-DD HH24:MI') AS due_text
    FROM escalated e
    LEFT JOIN unnest(%(units)s::bigint[], %(centres)s::bigint[]) AS s(unit, centre)
           ON s.unit = coalesce(e.unit_id, e.triage_unit_id)
), events AS (
    INSERT INTO cases_caseevent (case_id, at, action, from_state, to_state, actor_label, public, note, data)
    SELECT id, %(now)s, 'overdue_escalate', state, state, %(label)s, false,
           %(note_before)s || due_text || %(note_after)s,
           jsonb_build_object('due', stamp, 'supervising_unit', centre)
    FROM escalated_rows
), alerting AS (
    SELECT id, region_path, coalesce(centre, unit_id, triage_unit_id) AS unit, stamp,
           count(*) OVER (PARTITION BY coalesce(centre, unit_id, triage_unit_id)) AS unit_cases
    FROM escalated_rows
), alerts AS (
    INSERT INTO cases_dutyalert (case_id, case_count, kind, region_path, unit_id, dedupe_key, created_at)
    SELECT id, 1, %(kind)s, region_path, unit, left('overdue:' || id || ':' || stamp, 120), %(now)s
    FROM alerting WHERE unit IS NULL OR unit_cases <= %(digest_after)s
    UNION ALL
    SELECT NULL, count(*), %(kind)s, min(u.region_path), a.unit,
           left('overdue_digest:' || a.unit || ':' || %(now_stamp)s || ':' || min(a.id), 120), %(now)s
    FROM alerting a JOIN units_unit u ON u.id = a.unit
    WHERE a.unit_cases > %(digest_after)s
    GROUP BY a.unit
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING 1
)
SELECT id, number, assignee_id, unit_id, triage_unit_id, centre, stamp, due_text,
       (SELECT count(*) FROM alerts)
FROM escalated_rows ORDER BY id
"""


@dataclass
class _Context:
    """What every batch of one sweep's escalation needs (read once)."""

    now: datetime.datetime
    supervising: dict[int, int | None]  # unit → the centre supervising it
    paths: dict[int, str]  # unit → region path
    label: str


def _escalate_batch_sql(ids: list[int], ctx: _Context, result: SweepResult) -> list[_Escalated]:
    now, supervising = ctx.now, ctx.supervising
    note_before, note_after = _split(_(texts.OVERDUE_BODY))
    units = [unit for unit, centre in supervising.items() if centre is not None]
    params: dict[str, Any] = {
        "ids": ids,
        "open": list(OPEN_STATES),
        "now": now,
        "tz": timezone.get_current_timezone_name(),
        "units": units,
        "centres": [supervising[unit] for unit in units],
        "label": ctx.label,
        "note_before": note_before,
        "note_after": note_after,
        "kind": DutyAlert.Kind.OVERDUE.value,
        "digest_after": DIGEST_AFTER,
        "now_stamp": stamp(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(_ESCALATE_SQL, params)
        fetched = cursor.fetchall()
    if fetched:
        result.alerts += int(fetched[0][8])
    return [tuple(row[:8]) for row in fetched]


def _escalate_batch_rows(ids: list[int], ctx: _Context, result: SweepResult) -> list[_Escalated]:
    """The portable path (SQLite): read the rows, update them, write events and alerts as plain rows."""
    from fengqiao.notifications.services import insert_rows

    now, label = ctx.now, ctx.label
    qs = Case.objects.filter(_overdue(now), pk__in=ids).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    rows = list(qs.values_list(*_ESCALATION_FIELDS))
    if not rows:
        return []
    Case.objects.filter(pk__in=[row[0] for row in rows], overdue_escalated_at__isnull=True).update(
        overdue_escalated_at=now, supervised=True
    )
    body_text = _(texts.OVERDUE_BODY)
    escalated: list[_Escalated] = []
    events: list[tuple[Any, ...]] = []
    per_unit: dict[int | None, list[tuple[int, str, str]]] = {}
    for pk, number, state, region_path, due, assignee_id, unit_id, triage_unit_id in rows:
        due_stamp, due_text = stamp(due), _local(due)
        centre = ctx.supervising.get(unit_id or triage_unit_id)
        data = {"due": due_stamp, "supervising_unit": centre}
        events.append((pk, now, "overdue_escalate", state, state, label, False, body_text % {"due": due_text}, data))
        per_unit.setdefault(centre or unit_id or triage_unit_id, []).append((pk, region_path, due_stamp))
        escalated.append((pk, number, assignee_id, unit_id, triage_unit_id, centre, due_stamp, due_text))
    alerts: list[tuple[Any, ...]] = []
    kind = DutyAlert.Kind.OVERDUE.value
    for unit, cases in per_unit.items():
        if unit is None or len(cases) <= DIGEST_AFTER:
            for pk, region_path, due_stamp in cases:
                alerts.append((pk, 1, kind, region_path, unit, f"overdue:{pk}:{due_stamp}"[:120], now))
        else:
            key = f"overdue_digest:{unit}:{stamp(now)}:{cases[0][0]}"[:120]
            alerts.append((None, len(cases), kind, ctx.paths.get(unit, ""), unit, key, now))
    insert_rows(CaseEvent, _EVENT_COLUMNS, events)
    result.alerts += insert_rows(DutyAlert, _ALERT_COLUMNS, alerts, ignore_conflicts=True)
    return escalated


def _escalation_notices(
    rows: list[_Escalated], people: _People, centre_paths: dict[int, str], now: datetime.datetime
) -> list[tuple[Any, str, str, str, str, str | None]]:
    """The notifications for the cases escalated in one batch.

    The supervising centre's people (with ``cases.supervise_case``) and the handlers (the assignee, else
    the handling unit's people, else the triage centre's) hear about each case, under the key
    ``case:{id}:overdue:{due}``. Whoever would get more than ``DIGEST_AFTER`` of them in one batch (a
    backlog going overdue at once) gets one digest instead: the count, the first tracking numbers and a
    link to the list of overdue cases. Every case keeps its own ``overdue_escalate`` event.
    """
    per_person: dict[tuple[int, str], list[_Escalated]] = {}
    for row in rows:
        _pk, _number, assignee_id, unit_id, triage_unit_id, centre, _stamp, _due = row
        if centre is not None:
            for user_id in people.members(centre, "cases.supervise_case"):
                per_person.setdefault((user_id, "case.overdue_escalated"), []).append(row)
        if assignee_id:
            handlers = [assignee_id]
        elif unit_id:
            handlers = people.members(unit_id, "cases.handle_case")
        else:
            handlers = people.members(triage_unit_id, "cases.triage_case")
        for user_id in handlers:
            per_person.setdefault((user_id, "case.overdue"), []).append(row)
    body_text, escalated_text, overdue_text = _(texts.OVERDUE_BODY), _(texts.OVERDUE_ESCALATED), _(texts.OVERDUE)
    list_url = "/cases/"  # as the case links here: a worker needs no URL configuration
    items: list[tuple[Any, str, str, str, str, str | None]] = []
    for (user_id, kind), cases in per_person.items():
        if len(cases) <= DIGEST_AFTER:
            subject_text = escalated_text if kind == "case.overdue_escalated" else overdue_text
            for pk, number, _a, _u, _t, _c, due_stamp, due_text in cases:
                key = f"case:{pk}:overdue:{due_stamp}"
                items.append(
                    (
                        user_id,
                        kind,
                        subject_text % {"number": number},
                        body_text % {"due": due_text},
                        f"/cases/{number}/",
                        key,
                    )
                )
            continue
        query = {"overdue": "on", "sort": "due"}
        if kind == "case.overdue_escalated":
            subject = _(OVERDUE_DIGEST_SUPERVISE) % {"count": len(cases)}
            path = centre_paths.get(cases[0][5] or 0)
            if path:
                query["region"] = path
        else:
            subject = _(OVERDUE_DIGEST_HANDLE) % {"count": len(cases)}
        numbers = ", ".join(row[1] for row in cases[:DIGEST_NUMBERS])
        body = _(OVERDUE_DIGEST_BODY) % {"numbers": numbers}
        key = f"overdue_digest:{kind}:{stamp(now)}:{cases[0][0]}"
        items.append((user_id, "case.overdue_digest", subject, body, f"{list_url}?{urlencode(query)}", key))
    return items


def _escalate(now: datetime.datetime, result: SweepResult) -> None:
    """Step 2: escalate the overdue cases, ``ESCALATION_BATCH`` per transaction.

    The candidates are read once (ids only); each batch then locks its rows again with the overdue
    condition re-checked (skip-locked on PostgreSQL: two workers never escalate the same case), sets
    ``overdue_escalated_at``, writes one event per case, the alerts (one per case, or one digest per
    centre with more than ``DIGEST_AFTER``) and the notifications (``_escalation_notices``), all in the
    batch's transaction. On PostgreSQL a batch is one statement
    (``_ESCALATE_SQL``); elsewhere the portable ``_escalate_batch_rows``.
    """
    from fengqiao.notifications.services import notify_many

    ids = list(Case.objects.filter(_overdue(now)).order_by("pk").values_list("pk", flat=True))
    if not ids:
        return
    centres = _Centres()
    ctx = _Context(
        now=now,
        supervising={unit: centres.supervising(unit) for unit in centres.units},
        paths={pk: path for pk, (_kind, path) in centres.units.items()},
        label=str(_(SWEEPER_LABEL))[:100],
    )
    write = _escalate_batch_sql if connection.vendor == "postgresql" else _escalate_batch_rows
    for i in range(0, len(ids), ESCALATION_BATCH):
        with transaction.atomic():
            rows = write(ids[i : i + ESCALATION_BATCH], ctx, result)
            if not rows:
                continue
            people = _People({unit for row in rows for unit in row[3:6]})
            result.notifications += notify_many(_escalation_notices(rows, people, ctx.paths, now))
            result.escalated += len(rows)
            result.escalated_numbers.extend(row[1] for row in rows)


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
