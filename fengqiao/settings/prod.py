"""Production settings: every secret must come from the environment."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403

for _name in ("SECRET_KEY", "FENGQIAO_DATA_KEYS", "FENGQIAO_DATA_KEY_ID", "FENGQIAO_INDEX_KEY", "FENGQIAO_AUDIT_KEY"):
    if not globals()[_name]:
        raise ImproperlyConfigured(f"{_name} must be set in the environment for production.")

SESSION_COOKIE_SECURE = env_bool("FENGQIAO_SECURE_COOKIES", True)  # noqa: F405
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
