"""Writing audit events. Every service function that writes calls ``record``
inside its own transaction, so the event commits (or rolls back) with the change."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import timezone

from fengqiao.core.personal import EncryptedValue

from .context import current
from .models import AuditEvent, Category


def _jsonable(value: Any) -> Any:
    if isinstance(value, EncryptedValue):
        return str(value)  # the mask, never the plaintext
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def snapshot(instance: models.Model | None, fields: Iterable[str] | None = None) -> dict[str, Any] | None:
    """A JSON-safe picture of ``instance`` for the before/after columns.

    Encrypted personal fields appear masked; many-to-many fields as id lists.
    """
    if instance is None:
        return None
    opts = instance._meta
    names = set(fields) if fields is not None else None
    data: dict[str, Any] = {}
    for field in opts.concrete_fields:
        if names is not None and field.name not in names:
            continue
        if field.name in {"password"}:
            continue
        value = getattr(instance, field.attname)
        data[field.attname] = _jsonable(value)
    if instance.pk is not None:
        for m2m in opts.many_to_many:
            if names is not None and m2m.name not in names:
                continue
            data[m2m.name] = sorted(getattr(instance, m2m.name).values_list("pk", flat=True))
    return data


def changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys that differ, for a compact change record."""
    before = before or {}
    after = after or {}
    keys = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def record(
    action: str,
    *,
    actor: Any = None,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    category: str = Category.OPERATION,
    result: str = "ok",
    region_path: str = "",
    actor_name: str = "",
    duration_ms: int | None = None,
) -> AuditEvent:
    ctx = current()
    unit_name = ""
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_name = actor_name or str(actor.get_username())
        unit = getattr(actor, "unit", None)
        unit_name = str(unit) if unit is not None else ""
    else:
        actor = None
        actor_name = actor_name or ctx.actor_name
    if obj is not None and not region_path:
        region_path = str(getattr(obj, "region_path", "") or getattr(obj, "path", "") or "")
    return AuditEvent.objects.create(
        at=timezone.now(),
        category=category,
        action=action,
        result=result,
        actor=actor,
        actor_name=actor_name[:150],
        unit_name=unit_name[:100],
        region_path=region_path[:15],
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        source=ctx.source,
        request_id=ctx.request_id,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=_jsonable(before),
        after=_jsonable(after),
        detail=_jsonable(detail),
        duration_ms=duration_ms,
    )
