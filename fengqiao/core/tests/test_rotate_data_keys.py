"""``manage.py rotate_data_keys``: re-encrypts what is not under the active key/cipher, resumably."""

from __future__ import annotations

import base64
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from fengqiao.audit.models import AuditEvent
from fengqiao.core import crypto
from fengqiao.core.personal import EncryptedValue
from fengqiao.registry.models import Resident
from fengqiao.registry.tests.factories import make_id, make_resident, make_tree

KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
INDEX_KEY = base64.b64encode(b"I" * 32).decode()


def ring(active: str, cipher: str = "AES-GCM", keys: dict[str, str] | None = None) -> override_settings:
    return override_settings(
        FENGQIAO_DATA_KEYS=keys if keys is not None else {"a": KEY_A, "b": KEY_B},
        FENGQIAO_DATA_KEY_ID=active,
        FENGQIAO_DATA_CIPHER=cipher,
        FENGQIAO_INDEX_KEY=INDEX_KEY,
    )


def raw_tokens() -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, id_number, phone FROM registry_resident ORDER BY id")
        return list(cursor.fetchall())


def run(*args: str) -> str:
    out = StringIO()
    call_command("rotate_data_keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def residents(db: None) -> list[Resident]:
    tree = make_tree()
    with ring("a"):
        people = [
            make_resident(tree.grid, name=f"居民{i}", id_number=make_id(seq=100 + i), phone=f"1380013{i:04d}")
            for i in range(7)
        ]
        people.append(make_resident(tree.grid, name="无电话"))  # empty id_number and phone stay empty
    return people


def test_rotation_reencrypts_everything_under_the_new_key(residents: list[Resident]) -> None:
    before = raw_tokens()
    with ring("b", cipher="SM4-GCM"):
        out = run("--batch-size", "3")
        assert "registry.Resident: re-encrypted 22 values in 8 rows (name 8, id_number 7, phone 7)" in out
        after = raw_tokens()
        for row in after:
            for token in row:
                assert token == "" or token.startswith("fq1$b$SM4-GCM$")
        # same plaintext, masks and indexes unchanged
        for resident in residents:
            fresh = Resident.objects.get(pk=resident.pk)
            assert fresh.name.plaintext() == resident.name.plaintext()
            assert fresh.name_masked == resident.name_masked
            assert fresh.id_number_index == resident.id_number_index
        assert AuditEvent.objects.filter(action="crypto.rotate_data_keys").count() == 1
        # a second run finds nothing to do
        assert "re-encrypted 0 values in 0 rows" in run()
    assert before != after
    # the old key can now be removed
    with ring("b", cipher="SM4-GCM", keys={"b": KEY_B}):
        assert Resident.objects.get(pk=residents[0].pk).phone.plaintext() == "13800130000"


def test_dry_run_writes_nothing(residents: list[Resident]) -> None:
    before = raw_tokens()
    with ring("b"):
        out = run("--dry-run")
    assert "would re-encrypt 22 values in 8 rows" in out
    assert raw_tokens() == before
    assert not AuditEvent.objects.filter(action="crypto.rotate_data_keys").exists()


def test_rotation_is_resumable(residents: list[Resident]) -> None:
    """Rows already under the active key (a previous, interrupted run) are not touched again."""
    from fengqiao.core.management.commands.rotate_data_keys import rotate_model

    with ring("b"):
        half = residents[:4]
        for resident in half:  # simulate a run that stopped after four rows
            for field in ("name", "id_number", "phone"):
                value = getattr(resident, field)
                if value:
                    plain = crypto.decrypt(value.token, context=f"registry.Resident.{field}")
                    Resident.objects.filter(pk=resident.pk).update(
                        **{field: EncryptedValue(crypto.encrypt(plain, context=f"registry.Resident.{field}"))}
                    )
        done = {r.pk: row for r, row in zip(residents, raw_tokens(), strict=True) if r in half}
        result = rotate_model(Resident, batch_size=2)
        assert result.rows == 4
        after = dict(zip([r.pk for r in residents], raw_tokens(), strict=True))
        for pk, row in done.items():
            assert after[pk] == row  # untouched


def test_undecryptable_values_are_reported_and_left(residents: list[Resident]) -> None:
    with ring("a", keys={"a": KEY_A, "old": KEY_B}):
        # one value written under a key that will be gone
        token = crypto.encrypt("13900000000", context="registry.Resident.phone")
        token = token.replace("fq1$a$", "fq1$old$")
        Resident.objects.filter(pk=residents[0].pk).update(phone=EncryptedValue(token))
    with ring("b"), pytest.raises(CommandError, match="1 values could not be decrypted"):
        run()
    assert raw_tokens()[0][2] == token
    with ring("b"):
        assert all(t == "" or t.startswith("fq1$b$") for row in raw_tokens()[1:] for t in row)


def test_bad_arguments(db: None) -> None:
    with pytest.raises(CommandError, match="batch-size"):
        run("--batch-size", "0")
    with pytest.raises(CommandError, match="No model"):
        run("--model", "registry.Household")
