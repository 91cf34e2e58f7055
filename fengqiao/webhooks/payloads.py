"""The JSON bodies receivers get (schema in ``docs/webhooks.md``).

Only what another platform needs to follow a case, never residents' personal
data: no reporter, no description, no address, no coordinates, no staff names
(the same rule as the resident's tracking page: units, not people). Names are in
the platform's language (zh-Hans); codes are stable and what receivers should
key on. The body is built once per event and stored, so every retry and
resend carries exactly the same bytes.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fengqiao.cases.labels import action_label
from fengqiao.cases.models import FINAL_STATES, Case, CaseState
from fengqiao.regions.models import Region

from .models import PING, EventType

SCHEMA_VERSION = "1"


def event_types_for(action: str, from_state: str, to_state: str) -> list[str]:
    """The webhook events one case event produces (none for notes, reminders and the like)."""
    if action == "submit":
        return [EventType.CASE_CREATED.value]
    types: list[str] = []
    if from_state and to_state and from_state != to_state:
        types.append(EventType.CASE_STATUS_CHANGED.value)
        if to_state in FINAL_STATES and from_state not in FINAL_STATES:
            types.append(EventType.CASE_CLOSED.value)
    return types


def iso(moment: datetime.datetime | None) -> str | None:
    """ISO 8601 with the offset, in Beijing time, to the second."""
    if moment is None:
        return None
    return timezone.localtime(moment).isoformat(timespec="seconds")


def _place(region: Region | None) -> dict[str, str] | None:
    if region is None:
        return None
    return {"code": region.code, "name": region.name}


def _state_name(state: str) -> str:
    try:
        return str(CaseState(state).label)
    except ValueError:
        return state


def case_data(
    case: Case, *, event_id: int, action: str, at: datetime.datetime, from_state: str, to_state: str
) -> dict[str, Any]:
    place = case.grid or case.community
    parts = [case.category.name, place.name if place is not None else "", _state_name(to_state)]
    base = getattr(settings, "FENGQIAO_BASE_URL", "").rstrip("/")
    return {
        "event_id": event_id,
        "action": action,
        "action_name": action_label(action),
        "occurred_at": iso(at),
        "case": {
            "number": case.number,
            "kind": case.kind,
            "state": to_state,
            "state_name": _state_name(to_state),
            "previous_state": from_state or None,
            "category": {"code": case.category.code, "name": case.category.name},
            "channel": case.channel,
            "region_code": (place.code if place is not None else case.region_path),
            "community": _place(case.community),
            "grid": _place(case.grid),
            "unit": {"code": case.unit.code, "name": case.unit.name} if case.unit is not None else None,
            "received_at": iso(case.received_at),
            "resolution_due": iso(case.resolution_due),
            "closed_at": iso(case.closed_at),
            "summary": " · ".join(p for p in parts if p),
            "url": f"{base}/cases/{case.number}/" if base else None,
        },
    }


def envelope(event_type: str, occurred_at: datetime.datetime, data: dict[str, Any]) -> str:
    """The body: ``{"type", "timestamp", "schema_version", "data"}``, compact JSON, UTF-8 text."""
    body = {"type": event_type, "timestamp": iso(occurred_at), "schema_version": SCHEMA_VERSION, "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def case_payloads(
    rows: Iterable[tuple[int, int, datetime.datetime, str, str, str, str]],
) -> dict[tuple[int, str], tuple[Case, str]]:
    """``rows``: (event id, case id, at, action, from, to, event type) → {(event id, type): (case, body)}."""
    rows = list(rows)
    cases = Case.objects.select_related("category", "unit", "community", "grid").in_bulk({r[1] for r in rows})
    out: dict[tuple[int, str], tuple[Case, str]] = {}
    with translation.override(settings.LANGUAGE_CODE):
        for event_id, case_id, at, action, from_state, to_state, event_type in rows:
            case = cases[case_id]
            data = case_data(case, event_id=event_id, action=action, at=at, from_state=from_state, to_state=to_state)
            out[(event_id, event_type)] = (case, envelope(event_type, at, data))
    return out


def ping_payload(subscription_name: str, at: datetime.datetime) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        data = {"message": _("Test event from the Fengqiao platform"), "subscriber": subscription_name}
    return envelope(PING, at, data)
