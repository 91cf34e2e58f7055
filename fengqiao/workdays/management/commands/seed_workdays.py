"""``manage.py seed_workdays [YEAR ...]``: write the official working-day calendar (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from fengqiao.audit.context import audit_context
from fengqiao.workdays.services import known_years, seed_from_chinese_calendar


class Command(BaseCommand):
    help = (
        "Seed the working-day calendar from the chinese_calendar package (holidays and make-up working days). "
        "Idempotent; days entered by an administrator are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("years", nargs="*", type=int, help="years to seed (default: every year the package knows)")

    def handle(self, *args: Any, **options: Any) -> None:
        years = options["years"] or None
        with audit_context(actor_name="seed_workdays", source="command"):
            result = seed_from_chinese_calendar(years)
        known = known_years()
        self.stdout.write(
            f"Calendar years {result.years[0] if result.years else '-'}–{result.years[-1] if result.years else '-'}: "
            f"{result.created} days created, {result.updated} updated, {result.kept_manual} manual days kept."
        )
        if result.unknown_years:
            self.stderr.write(
                f"chinese_calendar {known[0]}–{known[-1]} has no data for {', '.join(map(str, result.unknown_years))}: "
                "enter those years on the calendar page (/workdays/) and mark them complete."
            )
