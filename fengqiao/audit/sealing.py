"""Sealing and verifying the audit chain.

Writers append audit events without any lock or hash. ``seal_pending`` (run
every 30 s by the scheduler through ``fengqiao.audit.tasks.seal_audit_log``)
takes the unsealed rows in id order and chains them::

    row_hash   = HMAC-SHA256(key, prev_hash || canonical_json(row))
    block_hash = HMAC-SHA256(key, prev_block_hash || head_hash || str(row_count) || str(seq))

``prev_hash`` of a block's first row is the previous block's ``head_hash``
(``"0" * 64`` for the very first block); ``head_hash`` is the block's last
row hash; a block's ``prev_hash`` is the previous block's ``block_hash``. The
key is ``settings.FENGQIAO_AUDIT_KEY`` (base64) and must not live in the
database. The chain order is block ``seq``, then event id: a row that commits
late with a lower id simply lands in a later block.

``verify_chain`` recomputes all of it and reports every edited, inserted or
deleted row and every deleted, reordered or altered block. What it cannot see
on its own is the removal of the newest blocks together with their rows: for
that, anchor the head hash it prints (write it down, send it to another
system) and check it later with ``verify_audit_log --anchor HASH``. The ORM
guards on ``AuditEvent`` only make accidents unlikely; the HMAC chain plus an
anchored head hash is the actual guarantee.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import AuditBlock, AuditEvent

GENESIS = "0" * 64

#: every content column of AuditEvent, in the canonical form's key set
CONTENT_FIELDS: tuple[str, ...] = (
    "id",
    "at",
    "category",
    "action",
    "result",
    "actor_id",
    "actor_name",
    "unit_name",
    "region_path",
    "ip",
    "user_agent",
    "source",
    "request_id",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
    "detail",
    "duration_ms",
)
_ROW_FIELDS = (*CONTENT_FIELDS, "row_hash")
#: an arbitrary constant naming the sealer's PostgreSQL advisory lock
_PG_LOCK_ID = 0x46515F41554449  # "FQ_AUDI"


def audit_key() -> bytes:
    raw = getattr(settings, "FENGQIAO_AUDIT_KEY", "")
    if not raw:
        raise ImproperlyConfigured("FENGQIAO_AUDIT_KEY is not set: the audit log cannot be sealed or verified.")
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured("FENGQIAO_AUDIT_KEY is not valid base64.") from exc
    if len(key) < 16:
        raise ImproperlyConfigured("FENGQIAO_AUDIT_KEY must decode to at least 16 bytes (32 recommended).")
    return key


def _mac(key: bytes, message: str | bytes) -> str:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def canonical_json(row: dict[str, Any]) -> bytes:
    """The canonical bytes of one event: every content column, sorted keys, no spaces.

    ``row`` is a ``values()`` dict as read back from the database (so sealing
    and verifying hash exactly the same representation); ``at`` becomes an
    ISO 8601 string in UTC.
    """
    content: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = row[name]
        if name == "at" and isinstance(value, datetime.datetime):
            if timezone.is_naive(value):  # USE_TZ=False databases; not expected
                value = timezone.make_aware(value, datetime.UTC)
            value = value.astimezone(datetime.UTC).isoformat()
        content[name] = value
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def row_hash(key: bytes, prev_hash: str, row: dict[str, Any]) -> str:
    return _mac(key, prev_hash.encode("ascii") + canonical_json(row))


def block_hash(key: bytes, prev_block_hash: str, head_hash: str, row_count: int, seq: int) -> str:
    return _mac(key, f"{prev_block_hash}{head_hash}{row_count}{seq}")


# --- sealing --------------------------------------------------------------------


def _lock_sealers() -> None:
    """Serialise sealers (never writers) for the rest of the transaction."""
    vendor = connection.vendor
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_ID])
    elif vendor == "sqlite":
        # settings use transaction_mode IMMEDIATE: the transaction already
        # holds SQLite's single write lock.
        return
    else:  # best effort elsewhere: lock the newest block row
        list(AuditBlock.objects.select_for_update().order_by("-seq").values_list("pk", flat=True)[:1])


def seal_pending(max_rows: int = 10000) -> AuditBlock | None:
    """Seal up to ``max_rows`` unsealed events into one new block; None if there were none."""
    if max_rows < 1:
        raise ValueError("max_rows must be positive")
    key = audit_key()
    with transaction.atomic():
        _lock_sealers()
        last = AuditBlock.objects.order_by("-seq").first()
        rows = list(AuditEvent.objects.filter(block__isnull=True).order_by("id").values(*CONTENT_FIELDS)[:max_rows])
        if not rows:
            return None
        seq = last.seq + 1 if last is not None else 1
        prev_block_hash = last.block_hash if last is not None else GENESIS
        prev = last.head_hash if last is not None else GENESIS
        hashes: list[str] = []
        for row in rows:
            prev = row_hash(key, prev, row)
            hashes.append(prev)
        block = AuditBlock.objects.create(
            seq=seq,
            row_count=len(rows),
            first_event_id=rows[0]["id"],
            last_event_id=rows[-1]["id"],
            prev_hash=prev_block_hash,
            head_hash=prev,
            block_hash=block_hash(key, prev_block_hash, prev, len(rows), seq),
            sealed_at=timezone.now(),
        )
        # Instances built only to carry the two sealing columns: bulk_update
        # issues UPDATEs and never calls AuditEvent.save().
        AuditEvent.objects.bulk_update(
            [AuditEvent(id=row["id"], block_id=block.pk, row_hash=h) for row, h in zip(rows, hashes, strict=True)],
            ["block", "row_hash"],
            batch_size=500,
        )
        return block


def seal_all(max_rows: int = 10000) -> list[AuditBlock]:
    """Seal until nothing is pending; the blocks created."""
    blocks: list[AuditBlock] = []
    while (block := seal_pending(max_rows=max_rows)) is not None:
        blocks.append(block)
    return blocks


def pending_count() -> int:
    return AuditEvent.objects.filter(block__isnull=True).count()


# --- verifying ------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # see PROBLEM_KINDS
    message: str
    block_seq: int | None = None
    event_id: int | None = None

    def __str__(self) -> str:
        return self.message


#: kinds of problem verify_chain reports
PROBLEM_KINDS = (
    "row_edited",  # a sealed row's content differs from what was sealed
    "row_inserted",  # a row sits in a block it was not sealed into
    "row_deleted",  # a block has fewer rows than sealed / the row chain skips a row
    "block_missing",  # a gap or a wrong start in the block sequence
    "block_chain",  # a block's prev_hash is not the previous block's hash (deleted or reordered)
    "block_altered",  # a block's own fields do not match its hash or its rows
    "row_unsealed",  # a pending row already carries a row hash (taken out of its block)
    "anchor_missing",  # an anchored head hash is not in the chain any more
)


@dataclass
class VerifyReport:
    blocks_checked: int = 0
    rows_checked: int = 0
    total_blocks: int = 0
    pending_rows: int = 0
    head_seq: int | None = None
    head_hash: str = ""
    first_seq_checked: int | None = None
    partial: bool = False
    anchors: list[str] = field(default_factory=list)
    anchors_missing: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    checked_at: datetime.datetime = field(default_factory=timezone.now)

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}


#: how many sealed rows verify_chain loads at a time (whole blocks, so at least one block)
VERIFY_BATCH_ROWS = 20000


def _blocks_with_rows(blocks: QuerySet[AuditBlock]) -> Iterator[tuple[AuditBlock, list[dict[str, Any]]]]:
    """Blocks in seq order with their rows in id order, two queries per batch of blocks."""
    after: int | None = None
    while True:
        page = blocks if after is None else blocks.filter(seq__gt=after)
        batch: list[AuditBlock] = []
        rows_in_batch = 0
        for block in page.order_by("seq")[:1000]:
            batch.append(block)
            rows_in_batch += block.row_count
            if rows_in_batch >= VERIFY_BATCH_ROWS:
                break
        if not batch:
            return
        grouped: dict[int, list[dict[str, Any]]] = {block.pk: [] for block in batch}
        rows = AuditEvent.objects.filter(block_id__in=list(grouped)).order_by("block_id", "id")
        for row in rows.values("block_id", *_ROW_FIELDS):
            grouped[row["block_id"]].append(row)
        for block in batch:
            yield block, grouped[block.pk]
        after = batch[-1].seq


def _verify_block(
    key: bytes,
    block: AuditBlock,
    prev_head: str,
    report: VerifyReport,
    rows: list[dict[str, Any]],
    chain_broken: bool = False,
) -> None:
    """Check one block's rows and fields. ``chain_broken``: the block does not
    follow its predecessor (already reported), so its first row cannot be
    checked against the predecessor's head and is taken as the starting point."""
    seq = block.seq
    problems = report.problems
    prev = prev_head
    count = 0
    first_id: int | None = None
    last_id: int | None = None
    last_stored = prev_head
    deficit = max(block.row_count - len(rows), 0)
    deletions_located = 0
    prev_id: int | None = None
    for index, row in enumerate(rows):
        count += 1
        report.rows_checked += 1
        rid = row["id"]
        first_id = rid if first_id is None else first_id
        last_id = rid
        stored = row["row_hash"] or ""
        expected = row_hash(key, prev, row)
        if _same(expected, stored) or (chain_broken and index == 0 and stored):
            prev = last_stored = stored
            prev_id = rid
            continue
        following = rows[index + 1] if index + 1 < len(rows) else None
        if not stored or (following is not None and _same(row_hash(key, prev, following), following["row_hash"] or "")):
            # the chain goes on from before this row, as if it were not there
            problems.append(
                Problem(
                    "row_inserted",
                    _("Event %(id)s was added to sealed block %(seq)s afterwards.") % {"id": rid, "seq": seq},
                    seq,
                    rid,
                )
            )
            continue
        # The chain breaks at this row: its content changed, or the row before
        # it was deleted. Rows are sealed in id order, so when the block is
        # short of rows and the ids jump here, a deletion is the likely cause.
        gap = rid > block.first_event_id if prev_id is None else rid - prev_id > 1
        if deletions_located < deficit and gap:
            deletions_located += 1
            problems.append(
                Problem(
                    "row_deleted",
                    _("Block %(seq)s: a sealed event just before event %(id)s was deleted.") % {"seq": seq, "id": rid},
                    seq,
                    rid,
                )
            )
        else:
            problems.append(
                Problem(
                    "row_edited",
                    _("Event %(id)s (block %(seq)s) was changed after it was sealed.") % {"id": rid, "seq": seq},
                    seq,
                    rid,
                )
            )
        prev = last_stored = stored
        prev_id = rid
    if count != block.row_count:
        problems.append(
            Problem(
                "row_deleted" if count < block.row_count else "row_inserted",
                _("Block %(seq)s was sealed with %(sealed)s events but now has %(now)s.")
                % {"seq": seq, "sealed": block.row_count, "now": count},
                seq,
            )
        )
    elif (first_id, last_id) != (block.first_event_id, block.last_event_id):
        problems.append(
            Problem(
                "block_altered",
                _("Block %(seq)s: its first/last event ids do not match its events.") % {"seq": seq},
                seq,
            )
        )
    already = {p.kind for p in problems if p.block_seq == seq}
    if count and not _same(last_stored, block.head_hash) and "row_deleted" not in already:
        problems.append(
            Problem("row_deleted", _("Block %(seq)s: its last sealed event is missing.") % {"seq": seq}, seq)
        )
    expected_block = block_hash(key, block.prev_hash, block.head_hash, block.row_count, block.seq)
    if not _same(expected_block, block.block_hash):
        problems.append(
            Problem("block_altered", _("Block %(seq)s was changed after it was sealed.") % {"seq": seq}, seq)
        )


def verify_chain(last_blocks: int | None = None, anchors: Iterable[str] = ()) -> VerifyReport:
    """Recompute the chain; ``last_blocks`` limits the check to the newest N blocks (quick check).

    ``anchors``: head hashes written down earlier; each must still be the
    hash of a block in the chain.
    """
    key = audit_key()
    report = VerifyReport(anchors=[a.strip().lower() for a in anchors if a.strip()])
    wanted = set(report.anchors)
    seen_hashes: set[str] = set()
    report.total_blocks = AuditBlock.objects.count()
    report.pending_rows = pending_count()
    blocks = AuditBlock.objects.order_by("seq")
    prev_block: AuditBlock | None = None
    if last_blocks is not None and report.total_blocks > last_blocks:
        report.partial = True
        tail = list(AuditBlock.objects.order_by("-seq")[: last_blocks + 1])
        tail.reverse()
        prev_block = tail[0]  # trusted starting point, not itself verified
        blocks = blocks.filter(seq__gt=prev_block.seq)
    expected_seq = prev_block.seq + 1 if prev_block is not None else 1
    for block, rows in _blocks_with_rows(blocks):
        if report.first_seq_checked is None:
            report.first_seq_checked = block.seq
        prev_block_hash = prev_block.block_hash if prev_block is not None else GENESIS
        prev_head = prev_block.head_hash if prev_block is not None else GENESIS
        if block.seq != expected_seq:
            report.problems.append(
                Problem(
                    "block_missing",
                    _("Block %(expected)s is missing (the next block is %(seq)s).")
                    % {"expected": expected_seq, "seq": block.seq},
                    block.seq,
                )
            )
        chain_broken = not _same(block.prev_hash, prev_block_hash)
        if chain_broken:
            report.problems.append(
                Problem(
                    "block_chain",
                    _("Block %(seq)s does not follow the block before it: a block was deleted or reordered.")
                    % {"seq": block.seq},
                    block.seq,
                )
            )
        _verify_block(key, block, prev_head, report, rows, chain_broken=chain_broken)
        report.blocks_checked += 1
        if block.block_hash in wanted:
            seen_hashes.add(block.block_hash)
        prev_block = block
        expected_seq = block.seq + 1
    if prev_block is not None:
        report.head_seq = prev_block.seq
        report.head_hash = prev_block.block_hash
    for anchor in report.anchors:
        if anchor in seen_hashes:
            continue
        # in a quick check the anchor may lie in the older, unchecked blocks
        if report.partial and AuditBlock.objects.filter(seq__lt=expected_seq, block_hash=anchor).exists():
            continue
        report.anchors_missing.append(anchor)
        report.problems.append(
            Problem(
                "anchor_missing",
                _("The anchored head hash %(hash)s is not in the chain: sealed blocks were removed or replaced.")
                % {"hash": anchor},
            )
        )
    unsealed = AuditEvent.objects.filter(block__isnull=True).exclude(row_hash="").values_list("id", flat=True)[:50]
    for rid in unsealed:
        report.problems.append(
            Problem(
                "row_unsealed",
                _("Event %(id)s carries a seal but belongs to no block: it was taken out of its block.") % {"id": rid},
                None,
                rid,
            )
        )
    return report
