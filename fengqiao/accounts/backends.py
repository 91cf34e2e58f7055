"""Authentication backend: passwords as Django's ModelBackend, permissions from roles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend


class RoleBackend(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        return user_obj.role_permissions()

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return user_obj.is_active and perm in self.get_all_permissions(user_obj, obj)
