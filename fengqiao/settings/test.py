"""Settings for the test suite (pytest-django). DATABASE_URL picks the database."""

from .dev import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {
    "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default"]},
}
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
