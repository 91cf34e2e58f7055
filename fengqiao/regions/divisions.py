"""Import of the GB/T 2260 administrative divisions (province, prefecture, county) with their history.

The source is the CSV of yescallop/areacodes (``result.csv``): one row per
code and period, with columns 代码, 一级行政区, 二级行政区, 名称, 级别
(省级/地级/县级), 状态 (在用 in use / 变更 changed / 弃用 abolished), 启用时间
(first year), 变更/弃用时间 (last year, exclusive) and 新代码 (successors).
A code can be reused over time, so a row is identified by (code, valid_from).

The import is set-based (one bulk insert, one bulk update, one bulk parent
update) and idempotent: running it again changes nothing.
"""

from __future__ import annotations

import csv
import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fengqiao.audit.models import Category
from fengqiao.audit.services import record

from .models import Level, Region
from .rules import path_for

LEVELS = {"省级": Level.PROVINCE, "地级": Level.PREFECTURE, "县级": Level.COUNTY}
CURRENT = "在用"
COLUMNS = ("代码", "名称", "级别", "状态", "启用时间", "变更/弃用时间", "新代码")
FIELDS = ("name", "level", "path", "valid_to", "successor_codes")


def default_path() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "external-data" / "divisions" / "areacodes_result.csv"


class DivisionFileError(ValueError):
    """The file cannot be read as a division list."""


@dataclass
class DivisionRow:
    code: str  # 12 digits
    name: str
    level: int
    valid_from: datetime.date
    valid_to: datetime.date | None
    successor_codes: str

    @property
    def key(self) -> tuple[str, datetime.date]:
        return (self.code, self.valid_from)


@dataclass
class DivisionImportResult:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    parents_set: int = 0
    without_parent: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "parents_set": self.parents_set,
            "without_parent": self.without_parent,
            "skipped": len(self.skipped),
        }


def _year(value: str, line: int, column: str) -> datetime.date:
    text = value.strip()
    if not (text.isdigit() and len(text) == 4):
        raise DivisionFileError(f"line {line}: {column} “{value}” is not a year")
    return datetime.date(int(text), 1, 1)


def read_rows(path: Path, *, only_current: bool = False) -> tuple[list[DivisionRow], list[str]]:
    """Parse the CSV; returns the rows and the lines skipped (with the reason)."""
    rows: list[DivisionRow] = []
    skipped: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DivisionFileError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, raw in enumerate(reader, start=2):
            code = (raw["代码"] or "").strip()
            level = LEVELS.get((raw["级别"] or "").strip())
            status = (raw["状态"] or "").strip()
            if not (code.isdigit() and len(code) == 6) or level is None:
                skipped.append(f"line {line}: code “{code}” / level “{raw['级别']}” not understood")
                continue
            if only_current and status != CURRENT:
                continue
            try:
                valid_from = _year(raw["启用时间"] or "", line, "启用时间")
                end = (raw["变更/弃用时间"] or "").strip()
                valid_to = _year(end, line, "变更/弃用时间") if end and status != CURRENT else None
            except DivisionFileError as exc:
                skipped.append(str(exc))
                continue
            if valid_to is not None and valid_to <= valid_from:
                skipped.append(f"line {line}: ends ({valid_to.year}) before it starts ({valid_from.year})")
                continue
            rows.append(
                DivisionRow(
                    code=code + "000000",
                    name=(raw["名称"] or "").strip()[:100],
                    level=level,
                    valid_from=valid_from,
                    valid_to=valid_to,
                    successor_codes=(raw["新代码"] or "").strip()[:200],
                )
            )
    seen: set[tuple[str, datetime.date]] = set()
    unique: list[DivisionRow] = []
    for row in rows:
        if row.key in seen:
            skipped.append(f"code {row.code[:6]} starting {row.valid_from.year} appears twice; the first is kept")
            continue
        seen.add(row.key)
        unique.append(row)
    return unique, skipped


def _parent_code_candidates(code: str, level: int) -> list[str]:
    """Codes the parent may have, nearest first: a county's prefecture, then its province."""
    six = code[:6]
    province = six[:2] + "0000"
    if level == Level.COUNTY:
        prefecture = six[:4] + "00"
        return [prefecture, province] if prefecture != province else [province]
    if level == Level.PREFECTURE:
        return [province]
    return []


Versions = list[tuple[datetime.date, datetime.date | None, int]]


def _version_on(versions: Versions, day: datetime.date) -> int | None:
    for v_from, v_to, pk in versions:
        if v_from <= day and (v_to is None or v_to > day):
            return pk
    return None


def _latest_overlapping(versions: Versions, start: datetime.date, end: datetime.date | None) -> int | None:
    overlapping = [
        (v_from, pk)
        for v_from, v_to, pk in versions
        if (v_to is None or v_to > start) and (end is None or v_from < end)
    ]
    return max(overlapping)[1] if overlapping else None


def pick_parent(
    candidates: list[str], versions: dict[str, Versions], start: datetime.date, end: datetime.date | None
) -> int | None:
    """The parent in force on the child's last day (its prefecture, else its province);
    failing that, the latest version of the nearest candidate that overlaps the child's life."""
    last_day = (end - datetime.timedelta(days=1)) if end else max(timezone.localdate(), start)
    for code in candidates:
        pk = _version_on(versions.get(code, []), last_day)
        if pk is not None:
            return pk
    for code in candidates:
        pk = _latest_overlapping(versions.get(code, []), start, end)
        if pk is not None:
            return pk
    return None


@transaction.atomic
def import_divisions(path: Path, *, only_current: bool = False, actor: Any = None) -> DivisionImportResult:
    rows, skipped = read_rows(path, only_current=only_current)
    result = DivisionImportResult(read=len(rows), skipped=skipped)

    existing: dict[tuple[str, datetime.date | None], Region] = {
        (r.code, r.valid_from): r
        for r in Region.objects.filter(level__in=list(LEVELS.values())).only(
            "pk", "code", "valid_from", *FIELDS, "parent_id"
        )
    }
    to_create: list[Region] = []
    to_update: list[Region] = []
    for row in rows:
        values = {
            "name": row.name,
            "level": row.level,
            "path": path_for(row.code, row.level),
            "valid_to": row.valid_to,
            "successor_codes": row.successor_codes,
        }
        region = existing.get(row.key)
        if region is None:
            to_create.append(Region(code=row.code, valid_from=row.valid_from, **values))
        elif any(getattr(region, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(region, k, v)
            to_update.append(region)
        else:
            result.unchanged += 1
    # End the old periods before inserting the new ones (one current row per path).
    now = timezone.now()
    for region in to_update:
        region.updated_at = now
    Region.objects.bulk_update(to_update, [*FIELDS, "updated_at"], batch_size=500)
    Region.objects.bulk_create(to_create, batch_size=500)
    result.created = len(to_create)
    result.updated = len(to_update)

    # Parents, from the code structure and the periods.
    versions: dict[str, Versions] = defaultdict(list)
    regions = list(
        Region.objects.filter(level__in=list(LEVELS.values())).only(
            "pk", "code", "level", "valid_from", "valid_to", "parent_id"
        )
    )
    for r in regions:
        versions[r.code].append((r.valid_from or datetime.date.min, r.valid_to, r.pk))
    for vs in versions.values():
        vs.sort()
    wanted = {row.key for row in rows}
    parent_changes: list[Region] = []
    for r in regions:
        if (r.code, r.valid_from) not in wanted:
            continue
        candidates = [c + "000000" for c in _parent_code_candidates(r.code, r.level)]
        parent_id = pick_parent(candidates, versions, r.valid_from or datetime.date.min, r.valid_to)
        if r.level != Level.PROVINCE and parent_id is None:
            result.without_parent += 1
        if r.parent_id != parent_id:
            r.parent_id = parent_id
            parent_changes.append(r)
    Region.objects.bulk_update(parent_changes, ["parent"], batch_size=500)
    result.parents_set = len(parent_changes)
    record(
        "region.import_divisions",
        actor=actor,
        category=Category.SYSTEM if actor is None else Category.OPERATION,
        detail={"file": path.name, "only_current": only_current, **result.as_dict()},
    )
    return result
