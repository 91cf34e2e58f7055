from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import override_settings

from fengqiao.audit.models import AppendOnlyError, AuditBlock, AuditEvent
from fengqiao.audit.sealing import (
    GENESIS,
    block_hash,
    canonical_json,
    seal_all,
    seal_pending,
    verify_chain,
)
from fengqiao.audit.services import record
from fengqiao.audit.tasks import seal_audit_log

pytestmark = pytest.mark.django_db


def _events(n: int, prefix: str = "test.action") -> list[AuditEvent]:
    return [
        record(f"{prefix}.{i}", actor_name=f"clerk{i}", detail={"i": i, "名称": "测试", "f": 1.5}, after={"x": [1, 2]})
        for i in range(n)
    ]


def _three_blocks() -> list[AuditBlock]:
    blocks = []
    for _ in range(3):
        _events(4)
        block = seal_pending()
        assert block is not None
        blocks.append(block)
    return blocks


def test_seal_pending_chains_rows_and_blocks() -> None:
    assert seal_pending() is None  # nothing to seal
    events = _events(5)
    block = seal_pending()
    assert block is not None
    assert (block.seq, block.row_count) == (1, 5)
    assert (block.first_event_id, block.last_event_id) == (events[0].pk, events[-1].pk)
    assert block.prev_hash == GENESIS
    rows = list(AuditEvent.objects.order_by("id"))
    assert all(r.block_id == block.pk and len(r.row_hash) == 64 for r in rows)
    assert block.head_hash == rows[-1].row_hash
    assert len({r.row_hash for r in rows}) == 5
    _events(2)
    second = seal_pending()
    assert second is not None
    assert second.seq == 2 and second.prev_hash == block.block_hash
    assert seal_pending() is None
    report = verify_chain()
    assert report.ok, report.problems
    assert (report.rows_checked, report.blocks_checked, report.pending_rows) == (7, 2, 0)
    assert report.head_hash == second.block_hash


def test_max_rows_splits_into_blocks_and_task_seals_everything() -> None:
    _events(7)
    first = seal_pending(max_rows=3)
    assert first is not None and first.row_count == 3
    assert seal_audit_log.call() == 4
    assert AuditBlock.objects.count() == 2
    assert AuditEvent.objects.filter(block__isnull=True).count() == 0
    assert verify_chain().ok
    with pytest.raises(ValueError):
        seal_pending(max_rows=0)


def test_task_enqueue_runs_with_immediate_backend() -> None:
    _events(3)
    result = seal_audit_log.enqueue()
    assert result.return_value == 3
    assert verify_chain().ok


def test_canonical_json_is_stable_and_covers_every_column() -> None:
    event = _events(1)[0]
    row = AuditEvent.objects.filter(pk=event.pk).values(
        *[f.attname for f in AuditEvent._meta.concrete_fields if f.attname not in {"block_id", "row_hash"}]
    )[0]
    data = canonical_json(row)
    assert data == canonical_json(dict(reversed(list(row.items()))))
    text = data.decode()
    for name in row:
        assert f'"{name}":' in text
    assert " " not in text.replace("clerk0", "")  # compact separators
    assert "+00:00" in text  # time in UTC


def test_block_hash_depends_on_every_input() -> None:
    key = b"k" * 32
    base = block_hash(key, GENESIS, "a" * 64, 3, 1)
    assert base != block_hash(key, GENESIS, "a" * 64, 4, 1)
    assert base != block_hash(key, GENESIS, "a" * 64, 3, 2)
    assert base != block_hash(key, "1" * 64, "a" * 64, 3, 1)
    assert base != block_hash(b"x" * 32, GENESIS, "a" * 64, 3, 1)


def test_model_refuses_edit_and_delete() -> None:
    event = _events(1)[0]
    event.action = "forged"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.action.0"


def test_missing_or_bad_key_is_reported() -> None:
    _events(1)
    with override_settings(FENGQIAO_AUDIT_KEY=""), pytest.raises(ImproperlyConfigured):
        seal_pending()
    with override_settings(FENGQIAO_AUDIT_KEY="not base64!!"), pytest.raises(ImproperlyConfigured):
        seal_pending()
    with override_settings(FENGQIAO_AUDIT_KEY="c2hvcnQ="), pytest.raises(ImproperlyConfigured):
        seal_pending()
    assert AuditBlock.objects.count() == 0


def test_wrong_key_fails_verification() -> None:
    _three_blocks()
    with override_settings(FENGQIAO_AUDIT_KEY="b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMzI="):
        report = verify_chain()
    assert not report.ok


# --- tampering ------------------------------------------------------------------


def test_edited_row_content_is_detected() -> None:
    _three_blocks()
    victim = AuditBlock.objects.get(seq=2).events.order_by("id")[1]
    AuditEvent.objects.filter(pk=victim.pk).update(actor_name="somebody else")
    report = verify_chain()
    assert report.kinds() == {"row_edited"}
    assert [p.event_id for p in report.problems] == [victim.pk]


@pytest.mark.parametrize(
    ("column", "sql_value"),
    [("at", "'2020-01-01 00:00:00'"), ("detail", "'{\"i\": 99}'"), ("result", "'failed'"), ("actor_id", "42")],
)
def test_raw_sql_edit_of_any_column_is_detected(column: str, sql_value: str) -> None:
    _three_blocks()
    victim = AuditBlock.objects.get(seq=1).events.order_by("id")[0]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE audit_auditevent SET {column} = {sql_value} WHERE id = %s", [victim.pk])  # noqa: S608
    report = verify_chain()
    assert "row_edited" in report.kinds()
    assert report.problems[0].event_id == victim.pk


def test_row_inserted_into_sealed_block_is_detected() -> None:
    blocks = _three_blocks()
    intruder = record("test.forged", actor_name="mallory")
    AuditEvent.objects.filter(pk=intruder.pk).update(block=blocks[1])
    report = verify_chain()
    assert "row_inserted" in report.kinds()
    assert intruder.pk in {p.event_id for p in report.problems}
    assert "row_edited" not in report.kinds()


def test_row_inserted_in_the_middle_with_a_fake_hash_is_detected() -> None:
    blocks = _three_blocks()
    events = list(blocks[1].events.order_by("id"))
    # move a later block's row into block 2 and give it a plausible-looking hash
    moved = blocks[2].events.order_by("id")[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET block_id = %s, id = %s WHERE id = %s",
            [blocks[1].pk, events[1].pk * 1000, moved.pk],
        )
    report = verify_chain()
    assert not report.ok
    assert {"row_inserted", "row_deleted"} <= report.kinds()


def test_row_deleted_from_block_is_detected() -> None:
    blocks = _three_blocks()
    victim = blocks[1].events.order_by("id")[1]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    report = verify_chain()
    assert report.kinds() == {"row_deleted"}
    assert all(p.block_seq == 2 for p in report.problems)


@pytest.mark.parametrize("position", [0, -1])
def test_first_or_last_row_deleted_is_detected(position: int) -> None:
    blocks = _three_blocks()
    victim = list(blocks[0].events.order_by("id"))[position]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    report = verify_chain()
    assert "row_deleted" in report.kinds()


def test_row_taken_out_of_its_block_is_detected() -> None:
    blocks = _three_blocks()
    victim = blocks[0].events.order_by("id")[2]
    AuditEvent.objects.filter(pk=victim.pk).update(block=None)
    report = verify_chain()
    assert {"row_deleted", "row_unsealed"} <= report.kinds()
    # resealing does not launder it: block 1 still lacks the row
    seal_all()
    assert "row_deleted" in verify_chain().kinds()


def test_block_deleted_is_detected() -> None:
    blocks = _three_blocks()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE block_id = %s", [blocks[1].pk])
        cursor.execute("DELETE FROM audit_auditblock WHERE id = %s", [blocks[1].pk])
    report = verify_chain()
    assert report.kinds() == {"block_missing", "block_chain"}


def test_first_block_deleted_is_detected() -> None:
    blocks = _three_blocks()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE block_id = %s", [blocks[0].pk])
        cursor.execute("DELETE FROM audit_auditblock WHERE id = %s", [blocks[0].pk])
    assert {"block_missing", "block_chain"} <= verify_chain().kinds()


def test_blocks_reordered_are_detected() -> None:
    blocks = _three_blocks()
    AuditBlock.objects.filter(pk=blocks[1].pk).update(seq=99)
    AuditBlock.objects.filter(pk=blocks[2].pk).update(seq=2)
    AuditBlock.objects.filter(pk=blocks[1].pk).update(seq=3)
    report = verify_chain()
    assert {"block_chain", "block_altered"} <= report.kinds()
    assert "row_edited" not in report.kinds()


def test_block_fields_altered_are_detected() -> None:
    blocks = _three_blocks()
    AuditBlock.objects.filter(pk=blocks[0].pk).update(row_count=3)
    assert {"row_inserted", "block_altered"} <= verify_chain().kinds()


def test_newest_block_removed_is_caught_by_anchor() -> None:
    blocks = _three_blocks()
    anchor = verify_chain().head_hash
    assert anchor == blocks[2].block_hash
    assert verify_chain(anchors=[anchor]).ok
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE block_id = %s", [blocks[2].pk])
        cursor.execute("DELETE FROM audit_auditblock WHERE id = %s", [blocks[2].pk])
    assert verify_chain().ok  # the chain alone cannot see a cut-off tail
    report = verify_chain(anchors=[anchor.upper()])
    assert report.kinds() == {"anchor_missing"}


def test_quick_check_of_last_blocks() -> None:
    blocks = _three_blocks()
    report = verify_chain(last_blocks=1)
    assert report.ok and report.partial
    assert (report.blocks_checked, report.rows_checked) == (1, 4)
    assert verify_chain(last_blocks=1, anchors=[blocks[0].block_hash]).ok
    AuditEvent.objects.filter(pk=blocks[0].first_event_id).update(action="x")
    assert verify_chain(last_blocks=2).ok  # block 1 not looked at
    assert not verify_chain().ok


def test_late_rows_go_into_a_later_block() -> None:
    _events(3)
    seal_pending()
    late = record("test.late")
    # simulate a row that committed late with a lower id than sealed rows
    lowest = AuditEvent.objects.order_by("id").first()
    assert lowest is not None
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET id = %s WHERE id = %s", [-5, late.pk])
    _events(1)
    block = seal_pending()
    assert block is not None and block.row_count == 2 and block.first_event_id == -5
    assert verify_chain().ok


# --- the command ----------------------------------------------------------------


def test_command_on_clean_log() -> None:
    _events(3)
    out = StringIO()
    call_command("verify_audit_log", "--seal-first", stdout=out, stderr=StringIO())
    text = out.getvalue()
    head = AuditBlock.objects.get().block_hash
    assert head in text
    assert "3" in text
    call_command("verify_audit_log", "--anchor", head, stdout=StringIO(), stderr=StringIO())


def test_command_reports_pending_and_fails_on_tampering() -> None:
    _events(3)
    seal_all()
    _events(2)
    out, err = StringIO(), StringIO()
    call_command("verify_audit_log", stdout=out, stderr=err)
    assert AuditEvent.objects.filter(block__isnull=True).count() == 2
    AuditEvent.objects.filter(block__isnull=False).update(ip="6.6.6.6")
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit_log", stdout=StringIO(), stderr=err)
    assert excinfo.value.returncode == 1
    assert "[row_edited]" in err.getvalue()
    with pytest.raises(CommandError):
        call_command("verify_audit_log", "--last", "0", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db(transaction=True)
def test_concurrent_sealers_do_not_fork_the_chain() -> None:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        pytest.skip("shared-cache in-memory SQLite has table locks without a busy timeout; runs on PostgreSQL")
    _events(40)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while seal_pending(max_rows=3) is not None:
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(AuditBlock.objects.values_list("seq", flat=True)) == list(range(1, 15))
    assert AuditEvent.objects.filter(block__isnull=True).count() == 0
    assert verify_chain().ok


def test_edit_and_deletion_in_one_block_are_told_apart() -> None:
    _events(10)
    block = seal_pending()
    assert block is not None
    ids = list(block.events.order_by("id").values_list("id", flat=True))
    AuditEvent.objects.filter(pk=ids[2]).update(result="failed")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [ids[6]])
    report = verify_chain()
    located = {(p.kind, p.event_id) for p in report.problems if p.event_id}
    assert located == {("row_edited", ids[2]), ("row_deleted", ids[7])}
