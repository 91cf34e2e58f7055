"""The encryption layer: ciphers, associated data, key rotation, blind index, and the model field."""

from __future__ import annotations

import base64

import pytest
from django import forms
from django.core import serializers
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from fengqiao.core import crypto
from fengqiao.core.personal import EncryptedValue, index_for, normalise
from fengqiao.registry.models import Resident
from fengqiao.registry.tests.factories import make_id, make_resident, make_tree

KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
INDEX_KEY = base64.b64encode(b"I" * 32).decode()


def keys(active: str = "a", cipher: str = "AES-GCM", **extra: str) -> override_settings:
    return override_settings(
        FENGQIAO_DATA_KEYS={"a": KEY_A, "b": KEY_B, **extra},
        FENGQIAO_DATA_KEY_ID=active,
        FENGQIAO_DATA_CIPHER=cipher,
        FENGQIAO_INDEX_KEY=INDEX_KEY,
    )


@pytest.mark.parametrize("cipher", crypto.CIPHERS)
def test_round_trip(cipher: str) -> None:
    with keys(cipher=cipher):
        token = crypto.encrypt("张三 110105199003071239", context="t.col")
        assert token.startswith(f"fq1$a${cipher}$")
        assert "张三" not in token
        assert crypto.decrypt(token, context="t.col") == "张三 110105199003071239"


@pytest.mark.parametrize("cipher", crypto.CIPHERS)
def test_same_plaintext_encrypts_differently(cipher: str) -> None:
    with keys(cipher=cipher):
        assert crypto.encrypt("x", context="c") != crypto.encrypt("x", context="c")


@pytest.mark.parametrize("cipher", crypto.CIPHERS)
def test_tampered_ciphertext_fails(cipher: str) -> None:
    with keys(cipher=cipher):
        token = crypto.encrypt("13800138000", context="t.phone")
        prefix, blob = token.rsplit("$", 1)
        raw = bytearray(base64.b64decode(blob))
        for position in (0, len(raw) // 2, len(raw) - 1):  # nonce, body, tag
            changed = bytearray(raw)
            changed[position] ^= 0x01
            with pytest.raises(crypto.DecryptionError):
                crypto.decrypt(f"{prefix}${base64.b64encode(bytes(changed)).decode()}", context="t.phone")
        truncated = base64.b64encode(bytes(raw[:10])).decode()
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(f"{prefix}${truncated}", context="t.phone")


@pytest.mark.parametrize("bad", ["", "plain text", "fq1$a$AES-GCM", "fq1$a$AES-GCM$***", "fq2$a$AES-GCM$AAAA"])
def test_not_a_token(bad: str) -> None:
    with keys(), pytest.raises(crypto.DecryptionError):
        crypto.decrypt(bad)


@pytest.mark.parametrize("cipher", crypto.CIPHERS)
def test_value_bound_to_its_column(cipher: str) -> None:
    with keys(cipher=cipher):
        token = crypto.encrypt("110105199003071239", context="registry.Resident.id_number")
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(token, context="registry.Resident.phone")
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(token)


def test_switching_cipher_field_in_token_fails() -> None:
    with keys(cipher="AES-GCM"):
        token = crypto.encrypt("x", context="c")
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(token.replace("$AES-GCM$", "$SM4-GCM$"), context="c")


def test_rotation_old_values_still_read() -> None:
    with keys(active="a"):
        old = crypto.encrypt("李四", context="c")
    with keys(active="b", cipher="SM4-GCM"):
        assert crypto.decrypt(old, context="c") == "李四"
        assert crypto.needs_rotation(old)
        new = crypto.encrypt("李四", context="c")
        assert new.startswith(crypto.active_prefix()) and crypto.active_prefix() == "fq1$b$SM4-GCM$"
        assert not crypto.needs_rotation(new)


def test_missing_key_is_a_decryption_error() -> None:
    with keys(active="a"):
        token = crypto.encrypt("x", context="c")
    with (
        override_settings(FENGQIAO_DATA_KEYS={"b": KEY_B}, FENGQIAO_DATA_KEY_ID="b", FENGQIAO_INDEX_KEY=INDEX_KEY),
        pytest.raises(crypto.DecryptionError, match="not in the keyring"),
    ):
        crypto.decrypt(token, context="c")


@pytest.mark.parametrize(
    ("settings_kwargs", "message"),
    [
        ({"FENGQIAO_DATA_KEYS": {}}, "empty"),
        ({"FENGQIAO_DATA_KEYS": {"a": "not base64!"}}, "base64"),
        ({"FENGQIAO_DATA_KEYS": {"a": base64.b64encode(b"short").decode()}}, "32 bytes"),
        ({"FENGQIAO_DATA_KEYS": {"a": KEY_A, "x$y": KEY_B}}, "must not contain"),
        ({"FENGQIAO_DATA_KEY_ID": "zzz"}, "not in FENGQIAO_DATA_KEYS"),
        ({"FENGQIAO_DATA_CIPHER": "DES"}, "FENGQIAO_DATA_CIPHER"),
        ({"FENGQIAO_INDEX_KEY": ""}, "index"),
    ],
)
def test_bad_configuration_is_refused(settings_kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "FENGQIAO_DATA_KEYS": {"a": KEY_A},
        "FENGQIAO_DATA_KEY_ID": "a",
        "FENGQIAO_DATA_CIPHER": "AES-GCM",
        "FENGQIAO_INDEX_KEY": INDEX_KEY,
    }
    with override_settings(**{**base, **settings_kwargs}), pytest.raises(ImproperlyConfigured, match=message):
        crypto.keyring()


def test_blind_index_normalises_and_separates_purposes() -> None:
    with keys():
        number = make_id()
        spaced = f" {number[:6]} {number[6:14]} {number[14:].lower()} "
        fullwidth = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
        assert index_for("id_number", number) == index_for("id_number", spaced) == index_for("id_number", fullwidth)
        assert index_for("id_number", number) != index_for("phone", number)
        assert index_for("phone", "138 0013 8000") == index_for("phone", "+86 138-0013-8000")
        assert index_for("phone", "010-12345678") == index_for("phone", "(010) 1234 5678")
        assert index_for("name", "阿依古丽•买买提") == index_for("name", "阿依古丽·买买提")
        assert index_for("name", "张三") != index_for("name", "张四")
        assert len(index_for("name", "张三")) == 64


def test_blind_index_depends_on_the_index_key() -> None:
    with keys():
        first = index_for("phone", "13800138000")
    with override_settings(FENGQIAO_INDEX_KEY=KEY_B):
        assert index_for("phone", "13800138000") != first


def test_normalise_keeps_free_text() -> None:
    assert normalise("text", "  a  b ") == "a  b"
    assert normalise("name", " 张  三 ") == "张 三"


# --- the model field ---------------------------------------------------------


@pytest.mark.django_db
def test_field_encrypts_masks_indexes_and_never_holds_plaintext() -> None:
    tree = make_tree()
    number = make_id()
    resident = make_resident(tree.grid, name="王小明", id_number=number, phone="13800138000")
    assert isinstance(resident.id_number, EncryptedValue)
    assert str(resident.id_number) == number[:6] + "*" * 8 + number[-4:]
    assert resident.phone_masked == "138****8000"
    assert resident.name_masked == "王**"
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, id_number, phone FROM registry_resident WHERE id = %s", [resident.pk])
        stored = cursor.fetchone()
    for raw, plain in zip(stored, ("王小明", number, "13800138000"), strict=True):
        assert raw.startswith("fq1$") and plain not in raw
    loaded = Resident.objects.get(pk=resident.pk)
    assert "王小明" not in repr(loaded.name) and str(loaded.name) == "***"
    assert loaded.name.plaintext() == "王小明"
    assert loaded.id_number.plaintext() == number
    assert Resident.objects.filter(id_number_index=index_for("id_number", number.lower())).get() == loaded


@pytest.mark.django_db
def test_plaintext_lookup_on_encrypted_column_raises() -> None:
    with pytest.raises(TypeError, match="name_index"):
        Resident.objects.filter(name="王小明").exists()
    # empty values and stored tokens are fine
    assert not Resident.objects.filter(name="").exists()


@pytest.mark.django_db
def test_save_update_fields_writes_mask_and_index_too() -> None:
    tree = make_tree()
    resident = make_resident(tree.grid, name="王小明", phone="13800138000")
    resident.phone = "13900139000"
    resident.save(update_fields=["phone"])
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.phone_masked == "139****9000"
    assert fresh.phone_index == index_for("phone", "13900139000")
    assert fresh.phone.plaintext() == "13900139000"


@pytest.mark.django_db
def test_unchanged_value_is_not_re_encrypted() -> None:
    tree = make_tree()
    resident = make_resident(tree.grid, name="王小明")
    loaded = Resident.objects.get(pk=resident.pk)
    token = loaded.name.token
    loaded.relation = "户主"
    loaded.save()
    assert Resident.objects.get(pk=resident.pk).name.token == token


@pytest.mark.django_db
def test_model_form_cannot_overwrite_personal_fields_with_masks() -> None:
    class Everything(forms.ModelForm):
        class Meta:
            model = Resident
            fields = "__all__"  # noqa: DJ007 - the point of the test

    assert not {"name", "id_number", "phone"} & set(Everything.base_fields)


@pytest.mark.django_db
def test_dumpdata_loaddata_keeps_ciphertext() -> None:
    tree = make_tree()
    resident = make_resident(tree.grid, name="王小明", phone="13800138000")
    dumped = serializers.serialize("json", Resident.objects.filter(pk=resident.pk))
    assert "王小明" not in dumped and "fq1$" in dumped
    Resident.objects.filter(pk=resident.pk).delete()
    for obj in serializers.deserialize("json", dumped):
        obj.save()
    restored = Resident.objects.get(pk=resident.pk)
    assert restored.name.plaintext() == "王小明"
    assert restored.phone.plaintext() == "13800138000"
