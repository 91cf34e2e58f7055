"""Read-only admin views of the audit log (the staff pages are under /audit/)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditBlock, AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "category", "action", "result", "actor_name", "ip", "object_type", "object_id", "block")
    list_filter = ("category", "result")
    search_fields = ("action", "actor_name", "object_id", "request_id")
    date_hierarchy = "at"


@admin.register(AuditBlock)
class AuditBlockAdmin(ReadOnlyAdmin):
    list_display = ("seq", "row_count", "first_event_id", "last_event_id", "sealed_at", "block_hash")
