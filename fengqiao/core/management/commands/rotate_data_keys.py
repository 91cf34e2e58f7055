"""``manage.py rotate_data_keys``: re-encrypt personal data under the active key and cipher.

Key rotation: add the new key to ``FENGQIAO_DATA_KEYS``, point
``FENGQIAO_DATA_KEY_ID`` at it (and/or change ``FENGQIAO_DATA_CIPHER``),
restart, then run this command. New writes use the new key at once; old
values stay readable as long as their key is in the keyring; this command
re-encrypts them so that the old key can be removed afterwards.

Every ``EncryptedTextField`` of every installed model is covered. Rows are
taken in primary-key batches of rows that still hold a value *not* under the
active key/cipher (so an interrupted run simply continues where it stopped),
locked for update, re-encrypted in Python and written back with one
``bulk_update`` per batch, each batch in its own transaction. Masks and blind
indexes do not change (the plaintext does not). A value that cannot be
decrypted (missing key, corrupt) is counted and left as it is; the command
then ends with an error listing where. ``--dry-run`` reads and decrypts the
same rows but writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models import Q

from fengqiao.core import crypto
from fengqiao.core.personal import EncryptedTextField, EncryptedValue, encrypted_fields


@dataclass
class ModelResult:
    label: str
    rows: int = 0
    values: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[Any, str]] = field(default_factory=list)


def _pending_q(fields: list[EncryptedTextField], prefix: str) -> Q:
    """Rows with at least one non-empty value not written under ``prefix``."""
    q = Q()
    for f in fields:
        q |= ~Q(**{f.attname: ""}) & ~Q(**{f"{f.attname}__startswith": prefix})
    return q


def rotate_model(model: type[models.Model], *, batch_size: int = 500, dry_run: bool = False) -> ModelResult:
    """Re-encrypt ``model``'s values that are not under the active key/cipher; see the module docstring."""
    fields = list(encrypted_fields(model))
    result = ModelResult(model._meta.label, values={f.name: 0 for f in fields})
    prefix = crypto.active_prefix()
    manager: Any = model._base_manager
    pending = manager.filter(_pending_q(fields, prefix))
    last_pk: Any = None
    while True:
        with transaction.atomic():
            batch_qs = pending.order_by("pk")
            if last_pk is not None:
                batch_qs = batch_qs.filter(pk__gt=last_pk)
            if not dry_run:
                batch_qs = batch_qs.select_for_update()
            batch = list(batch_qs.only("pk", *[f.attname for f in fields])[:batch_size])
            if not batch:
                break
            changed = []
            for obj in batch:
                touched = False
                for f in fields:
                    value = getattr(obj, f.attname)
                    if not isinstance(value, EncryptedValue):
                        continue
                    try:
                        if not crypto.needs_rotation(value.token):
                            continue
                        plain = crypto.decrypt(value.token, context=f.context)
                    except crypto.DecryptionError as exc:
                        result.failed.append((obj.pk, f"{f.name}: {exc}"))
                        continue
                    setattr(obj, f.attname, EncryptedValue(crypto.encrypt(plain, context=f.context), "", f.context))
                    result.values[f.name] += 1
                    touched = True
                if touched:
                    changed.append(obj)
            if changed and not dry_run:
                manager.bulk_update(changed, [f.name for f in fields])
            result.rows += len(changed)
            last_pk = batch[-1].pk
    return result


class Command(BaseCommand):
    help = "Re-encrypt every encrypted personal field that is not under the active data key and cipher."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count (and test-decrypt) only; write nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument(
            "--model", action="append", default=[], metavar="APP.MODEL", help="Only this model (may be repeated)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        dry_run: bool = options["dry_run"]
        ring = crypto.keyring()
        wanted = {label.lower() for label in options["model"]}
        models_ = [m for m in apps.get_models() if any(True for _f in encrypted_fields(m))]
        if wanted:
            unknown = wanted - {m._meta.label_lower for m in models_}
            if unknown:
                raise CommandError(f"No model with encrypted fields: {', '.join(sorted(unknown))}")
            models_ = [m for m in models_ if m._meta.label_lower in wanted]
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"Active key {ring.active_id!r}, cipher {ring.cipher}{' (dry run)' if dry_run else ''}.")
        total_rows = total_values = 0
        failures: list[str] = []
        for model in models_:
            result = rotate_model(model, batch_size=batch_size, dry_run=dry_run)
            values = sum(result.values.values())
            total_rows += result.rows
            total_values += values
            per_field = ", ".join(f"{name} {count}" for name, count in result.values.items())
            self.stdout.write(f"{result.label}: {verb} {values} values in {result.rows} rows ({per_field})")
            failures += [f"{result.label} pk={pk} {what}" for pk, what in result.failed]
        self.stdout.write(f"Total: {verb} {total_values} values in {total_rows} rows.")
        if not dry_run and total_values:
            from fengqiao.audit.models import Category
            from fengqiao.audit.services import record

            with transaction.atomic():
                record(
                    "crypto.rotate_data_keys",
                    category=Category.SYSTEM,
                    detail={
                        "key_id": ring.active_id,
                        "cipher": ring.cipher,
                        "values": total_values,
                        "rows": total_rows,
                    },
                )
        if failures:
            for line in failures[:50]:
                self.stderr.write(f"cannot decrypt: {line}")
            more = " (first 50 shown)" if len(failures) > 50 else ""
            raise CommandError(f"{len(failures)} values could not be decrypted and were left as they are{more}.")
