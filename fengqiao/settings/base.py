"""Settings shared by every environment.

Everything that differs between machines comes from the environment
(``FENGQIAO_*`` variables, ``DATABASE_URL``); see ``docs/operations.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PACKAGE_DIR = BASE_DIR / "fengqiao"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = os.environ.get("FENGQIAO_SECRET_KEY", "")
DEBUG = env_bool("FENGQIAO_DEBUG", False)
ALLOWED_HOSTS = env_list("FENGQIAO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("FENGQIAO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # the JSON API's docs page uses ninja's own static Swagger UI (no CDN)
    "fengqiao.core",
    "fengqiao.audit",
    "fengqiao.regions",
    "fengqiao.units",
    "fengqiao.accounts",
    "fengqiao.system",
    "fengqiao.registry",
    "fengqiao.workdays",
    "fengqiao.notifications",
    "fengqiao.cases",
    "fengqiao.intake",
    "fengqiao.demo",
    "fengqiao.dashboard",
    "fengqiao.open311",
    "fengqiao.teams",
    "fengqiao.grid",
    "fengqiao.webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "fengqiao.audit.middleware.AuditContextMiddleware",
]

ROOT_URLCONF = "fengqiao.urls"
WSGI_APPLICATION = "fengqiao.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fengqiao.core.context_processors.platform",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("FENGQIAO_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and the background worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["fengqiao.accounts.backends.RoleBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    PACKAGE_DIR / "static",
    # Browser libraries installed by npm from package-lock.json (see Makefile).
    ("vendor/echarts", BASE_DIR / "node_modules" / "echarts" / "dist"),
    ("vendor/leaflet", BASE_DIR / "node_modules" / "leaflet" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = Path(os.environ.get("FENGQIAO_MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"

TASKS = {
    "default": {
        "BACKEND": os.environ.get("FENGQIAO_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "fengqiao",
    }
}
if os.environ.get("FENGQIAO_REDIS_URL"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["FENGQIAO_REDIS_URL"],
    }

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
X_FRAME_OPTIONS = "DENY"

# --- Fengqiao's own settings ---------------------------------------------------

# Map tiles: empty means no base map, only the GeoJSON layers (closed networks).
FENGQIAO_TILE_URL = os.environ.get("FENGQIAO_TILE_URL", "")
FENGQIAO_TILE_ATTRIBUTION = os.environ.get("FENGQIAO_TILE_ATTRIBUTION", "")

# Personal-data encryption. FENGQIAO_DATA_KEYS is a JSON object
# {"key id": "base64 key", ...}; FENGQIAO_DATA_KEY_ID names the key new values
# are written with; FENGQIAO_DATA_CIPHER is "AES-GCM" (default) or "SM4-GCM".
# FENGQIAO_INDEX_KEY (base64) keys the blind index; FENGQIAO_AUDIT_KEY keys the
# audit chain's HMAC. See docs/security.md.
FENGQIAO_DATA_KEYS: dict[str, str] = json.loads(os.environ.get("FENGQIAO_DATA_KEYS", "{}"))
FENGQIAO_DATA_KEY_ID = os.environ.get("FENGQIAO_DATA_KEY_ID", "")
FENGQIAO_DATA_CIPHER = os.environ.get("FENGQIAO_DATA_CIPHER", "AES-GCM")
FENGQIAO_INDEX_KEY = os.environ.get("FENGQIAO_INDEX_KEY", "")
FENGQIAO_AUDIT_KEY = os.environ.get("FENGQIAO_AUDIT_KEY", "")

# Reference endpoints for bench/ (never in production).
FENGQIAO_BENCH_ENDPOINTS = env_bool("FENGQIAO_BENCH_ENDPOINTS", False)

# How often the scheduler enqueues periodic tasks (seconds).
FENGQIAO_SCHEDULE = {
    "fengqiao.audit.tasks.seal_audit_log": 30,
    "fengqiao.cases.sweeper.sweep_deadlines": 60,
    "fengqiao.cases.figures.refresh_figures": 60,
    "fengqiao.intake.tasks.drain_inbox": 5,  # backstop: each report also kicks a drain
    "fengqiao.webhooks.tasks.pump_webhooks": 5,  # relay case events to webhook subscribers, send due deliveries
}

# Notification channels (fengqiao.core.notify): dotted class paths, the logging channel by default;
# e.g. FENGQIAO_NOTIFY_CHANNELS=fengqiao.core.notify.LoggingChannel,fengqiao.core.notify.WeComChannel
FENGQIAO_NOTIFY_CHANNELS = env_list("FENGQIAO_NOTIFY_CHANNELS", ["fengqiao.core.notify.LoggingChannel"])
FENGQIAO_NOTIFY_SMS = {
    "url": os.environ.get("FENGQIAO_NOTIFY_SMS_URL", ""),
    "secret": os.environ.get("FENGQIAO_NOTIFY_SMS_SECRET", ""),
    "timeout": float(os.environ.get("FENGQIAO_NOTIFY_TIMEOUT", "5")),
}
FENGQIAO_NOTIFY_WECOM = {
    "url": os.environ.get("FENGQIAO_NOTIFY_WECOM_URL", ""),
    "secret": os.environ.get("FENGQIAO_NOTIFY_WECOM_SECRET", ""),
    "timeout": float(os.environ.get("FENGQIAO_NOTIFY_TIMEOUT", "5")),
}
# The site's address, for links in e-mails and text messages (e.g. https://fengqiao.example.gov.cn).
FENGQIAO_BASE_URL = os.environ.get("FENGQIAO_BASE_URL", "")

# Webhooks to other platforms (fengqiao.webhooks, docs/webhooks.md). "allowed": host names (".gov.cn" for a
# domain) and networks (CIDR) receivers may live at; empty = any, except link-local/metadata/reserved ranges.
FENGQIAO_WEBHOOKS = {
    "allowed": env_list("FENGQIAO_WEBHOOK_ALLOWED", []),
    "allow_loopback": env_bool("FENGQIAO_WEBHOOK_ALLOW_LOOPBACK", DEBUG),
    "timeout": float(os.environ.get("FENGQIAO_WEBHOOK_TIMEOUT", "10")),
    "retry_delays": [60, 300, 1800, 7200, 43200],
    "pause_after_failures": 15,
    "pause_after_seconds": 3600,
}

# Callables returning {year: open deadlines in it}: the working-day calendar warns when such a
# year is not complete (fengqiao.workdays.selectors.calendar_warnings).
FENGQIAO_DEADLINE_YEAR_SOURCES = ["fengqiao.cases.sweeper.open_deadline_years"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FENGQIAO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
