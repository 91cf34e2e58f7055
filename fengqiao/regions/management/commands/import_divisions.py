"""``manage.py import_divisions [--path FILE] [--only-current]``: load GB/T 2260 divisions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fengqiao.audit.context import audit_context
from fengqiao.regions.divisions import DivisionFileError, default_path, import_divisions


class Command(BaseCommand):
    help = (
        "Import the GB/T 2260 province, prefecture and county codes with their history "
        "(areacodes result.csv). Idempotent: running it again updates, never duplicates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", type=Path, default=None, help=f"CSV file (default: {default_path()})")
        parser.add_argument("--only-current", action="store_true", help="Load only the codes in use (状态 = 在用).")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"] or default_path()
        if not path.is_file():
            self.stdout.write(self.style.WARNING(f"Division file not found: {path}; nothing imported."))
            return
        started = time.monotonic()
        try:
            with audit_context(source="command"):
                result = import_divisions(path, only_current=options["only_current"])
        except DivisionFileError as exc:
            raise CommandError(str(exc)) from exc
        for line in result.skipped[:20]:
            self.stdout.write(self.style.WARNING(f"skipped {line}"))
        if len(result.skipped) > 20:
            self.stdout.write(self.style.WARNING(f"... and {len(result.skipped) - 20} more skipped lines"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Divisions from {path.name}: {result.read} read, {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged, {result.parents_set} parent links set, "
                f"{result.without_parent} without a parent, {len(result.skipped)} skipped "
                f"({time.monotonic() - started:.1f} s)."
            )
        )
