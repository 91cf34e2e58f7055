"""``manage.py sync_roles``: install or update the built-in roles (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from fengqiao.accounts.roles import sync_builtin_roles
from fengqiao.audit.context import audit_context


class Command(BaseCommand):
    help = "Create or update the built-in roles and their permissions (see fengqiao/accounts/roles.py)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Restore every built-in role to exactly its definition, dropping permissions edited by hand.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with audit_context(source="command"):
            roles = sync_builtin_roles(reset=options["reset"])
        for code, role in roles.items():
            self.stdout.write(f"{code:20} {role.data_scope:15} {role.permissions.count():4} permissions")
        self.stdout.write(self.style.SUCCESS(f"{len(roles)} built-in roles in place."))
