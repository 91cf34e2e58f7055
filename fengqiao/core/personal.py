"""Reusable encrypted model fields for personal data.

Declare a personal field together with its masked copy and, if it must be
searchable, its blind index::

    class Resident(PersonalDataModel):
        id_number = EncryptedTextField(kind="id_number", searchable=True)
        id_number_masked = models.CharField(max_length=32, blank=True, editable=False)
        id_number_index = BlindIndexField()

Assign plaintext (``resident.id_number = "1101..."``); on save the value is
encrypted and the mask and index are filled in. Loaded values are
``EncryptedValue`` objects: ``str()`` gives the mask, never the plaintext.
Reading the plaintext goes through a permission-checked, logged reveal
(``fengqiao.accounts.services.reveal_personal_field``); ``EncryptedValue.plaintext()``
is the low-level call that reveal uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import models

from . import crypto
from .masking import mask

_SPACES = re.compile(r"\s+")


def normalise(kind: str, value: str) -> str:
    value = _SPACES.sub("", value) if kind in {"id_number", "phone"} else value.strip()
    if kind == "id_number":
        return value.upper()
    if kind == "phone":
        return value.removeprefix("+86").removeprefix("0086").replace("-", "")
    return value


def index_for(kind: str, value: str) -> str:
    return crypto.blind_index(normalise(kind, value), purpose=kind)


class EncryptedValue:
    """A stored ciphertext; shows as its mask, decrypts only on request."""

    __slots__ = ("context", "masked", "token")

    def __init__(self, token: str, masked: str = "", context: str = "") -> None:
        self.token = token
        self.masked = masked
        self.context = context

    def plaintext(self) -> str:
        return crypto.decrypt(self.token, context=self.context)

    def __str__(self) -> str:
        return self.masked or "***"

    def __repr__(self) -> str:
        return f"<EncryptedValue {self.masked or '***'}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EncryptedValue) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __bool__(self) -> bool:
        return bool(self.token)


class EncryptedTextField(models.TextField):
    """Stores AES-GCM/SM4-GCM ciphertext; see the module docstring."""

    def __init__(self, *args: Any, kind: str = "text", searchable: bool = False, **kwargs: Any) -> None:
        self.kind = kind
        self.searchable = searchable
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        if self.searchable:
            kwargs["searchable"] = True
        for key, default in (("blank", True), ("default", "")):
            if kwargs.get(key) == default:
                kwargs.pop(key)
        return name, path, args, kwargs

    @property
    def context(self) -> str:
        return f"{self.model._meta.label}.{self.name}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> EncryptedValue | str:
        if not value:
            return ""
        return EncryptedValue(value, context=self.context)

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, EncryptedValue):
            return value.token
        return crypto.encrypt(normalise(self.kind, str(value)), context=self.context)


class BlindIndexField(models.CharField):
    """HMAC-SHA256 hex digest of a personal field, for exact search."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)


def encrypted_fields(model: type[models.Model]) -> Iterable[EncryptedTextField]:
    return (f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField))


def seal_personal_fields(instance: models.Model) -> None:
    """Fill masks and blind indexes for plaintext just assigned to ``instance``.

    Called by ``PersonalDataModel.save``; bulk paths (imports) call it per
    instance before ``bulk_create``.
    """
    for field in encrypted_fields(type(instance)):
        value = getattr(instance, field.attname)
        if isinstance(value, EncryptedValue):
            continue  # unchanged since loaded
        plain = normalise(field.kind, str(value or ""))
        masked_attr = f"{field.name}_masked"
        if hasattr(instance, masked_attr):
            setattr(instance, masked_attr, mask(field.kind, plain) if plain else "")
        if field.searchable:
            setattr(instance, f"{field.name}_index", index_for(field.kind, plain) if plain else "")
        # Replace the plaintext by its ciphertext now, so the instance never
        # carries plaintext after it has been saved.
        if plain:
            token = crypto.encrypt(plain, context=field.context)
            setattr(instance, field.attname, EncryptedValue(token, getattr(instance, masked_attr, ""), field.context))
        else:
            setattr(instance, field.attname, "")


class PersonalDataModel(models.Model):
    """Abstract base for models with encrypted personal fields."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        seal_personal_fields(self)
        super().save(*args, **kwargs)
