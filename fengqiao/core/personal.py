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

Reading the plaintext goes through a permission-checked, scope-checked and
logged reveal (``reveal_field`` below, wrapped per model, e.g.
``fengqiao.registry.services.reveal_personal_field``);
``EncryptedValue.plaintext()`` is the low-level call that reveal uses.

Searching: an encrypted column cannot be compared with plaintext (every
encryption differs); filter on ``<field>_index`` with ``index_for(kind, value)``.
A plaintext lookup on the encrypted column raises ``TypeError`` instead of
silently matching nothing.

Encrypted fields are ``editable=False``: a generic ModelForm (or the admin)
would show the mask as the field's value and write the mask back as the new
plaintext on save. Personal fields are edited through service functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models, transaction

from . import crypto
from .masking import mask

if TYPE_CHECKING:
    from django.db.models import QuerySet

KINDS = ("name", "id_number", "phone", "text")

_SPACES = re.compile(r"\s+")
# separators people type inside phone numbers: "010-1234 5678", "(010)12345678"
_PHONE_SEPARATORS = re.compile(r"[\s\-()（）.]")
# the interpunct in names like "阿依古丽·买买提" comes in many look-alike forms
_NAME_DOTS = re.compile(r"[•・･‧∙⋅●]")


def _normalise_once(kind: str, value: str) -> str:
    value = unicodedata.normalize("NFKC", value)
    if kind == "id_number":
        return _SPACES.sub("", value).upper()
    if kind == "phone":
        value = _PHONE_SEPARATORS.sub("", value)
        for prefix in ("+86", "0086"):
            if value.startswith(prefix):
                return value[len(prefix) :]
        return value
    if kind == "name":
        return _NAME_DOTS.sub("·", _SPACES.sub(" ", value).strip())
    return value.strip()


def normalise(kind: str, value: str) -> str:
    """The canonical form that is encrypted and blind-indexed.

    NFKC folds full-width digits and letters (typed with a Chinese input
    method) into ASCII, so "１１０１…ｘ" and "1101…X" index alike. Applied
    until nothing changes, so normalising twice gives the same result.
    """
    if kind == "text":
        return value.strip()
    for _round in range(5):
        again = _normalise_once(kind, value)
        if again == value:
            break
        value = again
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


def _is_token(value: str) -> bool:
    try:
        crypto.parse(value)
    except crypto.DecryptionError:
        return False
    return True


class EncryptedTextField(models.TextField):
    """Stores AES-GCM/SM4-GCM ciphertext; see the module docstring."""

    def __init__(self, *args: Any, kind: str = "text", searchable: bool = False, **kwargs: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"EncryptedTextField kind must be one of {KINDS}, not {kind!r}")
        self.kind = kind
        self.searchable = searchable
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        if self.searchable:
            kwargs["searchable"] = True
        for key, default in (("blank", True), ("default", ""), ("editable", False)):
            if kwargs.get(key, default) == default:
                kwargs.pop(key, None)
        return name, path, args, kwargs

    @property
    def context(self) -> str:
        """Associated data bound into every ciphertext of this column."""
        return f"{self.model._meta.label}.{self.name}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> EncryptedValue | str:
        if not value:
            return ""
        return EncryptedValue(value, context=self.context)

    def to_python(self, value: Any) -> Any:
        # loaddata hands us the token written by value_to_string: keep it
        # as ciphertext instead of encrypting the token a second time.
        if isinstance(value, str) and value.startswith(crypto.PREFIX + "$") and _is_token(value):
            return EncryptedValue(value, context=self.context)
        return value

    def value_to_string(self, obj: models.Model) -> str:
        # dumpdata: the ciphertext, never the mask (that would lose the data)
        value = self.value_from_object(obj)
        if isinstance(value, EncryptedValue):
            return value.token
        return "" if value is None else str(value)

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        """Writes (save, bulk_create, bulk_update, update): encrypt plaintext."""
        if hasattr(value, "as_sql"):
            return value
        if value is None or value == "":
            return ""
        if isinstance(value, EncryptedValue):
            return value.token
        return crypto.encrypt(normalise(self.kind, str(value)), context=self.context)

    def get_prep_value(self, value: Any) -> Any:
        """Lookups: only the empty value or a stored token can be compared."""
        if value is None or value == "":
            return value
        if isinstance(value, EncryptedValue):
            return value.token
        if isinstance(value, str) and value.startswith(crypto.PREFIX + "$"):
            return value
        raise TypeError(
            f"{self.context} is encrypted and cannot be searched by plaintext; "
            f"filter on {self.name}_index with fengqiao.core.personal.index_for({self.kind!r}, value)."
        )


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


def companion_names(model: type[models.Model], name: str) -> list[str]:
    """The mask and index columns that belong to the encrypted field ``name``."""
    names = []
    for suffix in ("_masked", "_index"):
        try:
            model._meta.get_field(f"{name}{suffix}")
        except FieldDoesNotExist:
            continue
        names.append(f"{name}{suffix}")
    return names


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
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            # save(update_fields=["phone"]) must also write phone_masked and
            # phone_index, or the mask and index would describe the old value.
            names = list(update_fields)
            for field in encrypted_fields(type(self)):
                if field.name in names or field.attname in names:
                    names += [n for n in companion_names(type(self), field.name) if n not in names]
            kwargs["update_fields"] = names
        super().save(*args, **kwargs)


def reveal_field(
    *,
    actor: Any,
    queryset: QuerySet[Any],
    permission: str,
    obj: models.Model,
    field: str,
    reason: str = "",
    action: str = "pii.reveal",
) -> str:
    """Decrypt one personal field of ``obj`` for ``actor``, and log that it was read.

    ``queryset`` is what the actor may see (``Model.objects.restrict(actor, "view")``)
    and ``permission`` the permission that allows revealing. Without the
    permission, or when ``obj`` is outside the queryset, ``PermissionDenied`` is
    raised (views answer 404, so existence does not leak) and the refusal is
    logged. On success an access event (category "access") with the field and
    the reason is written before the plaintext is returned; the plaintext
    itself is never logged. The ciphertext is re-read from the database, so a
    stale or tampered ``obj`` cannot be used to reveal something else.
    """
    from fengqiao.audit.models import Category
    from fengqiao.audit.services import record

    model = type(obj)
    try:
        model_field = model._meta.get_field(field)
    except FieldDoesNotExist:
        model_field = None
    if not isinstance(model_field, EncryptedTextField):
        raise ValueError(f"{model._meta.label} has no encrypted field {field!r}")
    reason = (reason or "").strip()[:200]
    detail = {"field": field, "reason": reason}
    allowed = bool(getattr(actor, "is_authenticated", False)) and actor.has_perm(permission)
    row = queryset.filter(pk=obj.pk).values_list(model_field.attname, flat=True).first() if allowed else None
    if not allowed or row is None:
        with transaction.atomic():
            record(action, actor=actor, obj=obj, category=Category.ACCESS, result="denied", detail=detail)
        raise PermissionDenied
    with transaction.atomic():
        record(action, actor=actor, obj=obj, category=Category.ACCESS, detail=detail)
        if isinstance(row, EncryptedValue):
            return crypto.decrypt(row.token, context=model_field.context)
        return ""
