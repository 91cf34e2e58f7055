"""Development and demo settings: SQLite by default, fixed demo keys.

The keys here are public and only for the demo district. Never use them
with real data: production reads its keys from the environment (prod.py).
"""

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("FENGQIAO_DEBUG", True)
SECRET_KEY = SECRET_KEY or "demo-only-insecure-secret-key-change-me"  # noqa: F405
ALLOWED_HOSTS = ["*"]

FENGQIAO_DATA_KEYS = FENGQIAO_DATA_KEYS or {  # noqa: F405
    "demo1": "ZGVtby1vbmx5LWRhdGEta2V5LTMyLWJ5dGVzLWxvbmc=",
}
FENGQIAO_DATA_KEY_ID = FENGQIAO_DATA_KEY_ID or "demo1"  # noqa: F405
FENGQIAO_INDEX_KEY = FENGQIAO_INDEX_KEY or "ZGVtby1vbmx5LWJsaW5kLWluZGV4LWtleS0zMmJ5dGU="  # noqa: F405
FENGQIAO_AUDIT_KEY = FENGQIAO_AUDIT_KEY or "ZGVtby1vbmx5LWF1ZGl0LWNoYWluLWtleS0zMmJ5dGU="  # noqa: F405

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
