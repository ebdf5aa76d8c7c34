"""Settings shared by every environment. Deployment values come from the environment (civicmap.env)."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from civicmap.env import database_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-development-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "civicmap",
    "issues",
    "patrol",
    "stations",
    "frontend",
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
]

ROOT_URLCONF = "civicmap.urls"
WSGI_APPLICATION = "civicmap.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", "postgis://root@127.0.0.1:5432/civicmap")
    ),
}
# A read replica, when a deployment has one: reads that may lag go there (see civicmap.dbrouters).
if env_str("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = database_from_url(env_str("DATABASE_REPLICA_URL"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
}
# Sessions in the database: any web process can serve any request.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"

# Chinese for users by default, English available (Accept-Language or the language switch).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STATICFILES_DIRS: list[Path] = []
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "/media/"
# Photos go through Django storages so that a deployment can switch to S3-compatible storage
# (django-storages) by setting these backends; nothing a second web server needs stays on one disk.
STORAGES = {
    "default": {
        "BACKEND": env_str(
            "PHOTO_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
        ),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "civicmap.api.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Nanyuan CivicMap API",
    "DESCRIPTION": "Riders report civic problems; teams and departments close them out.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets come from the drf-spectacular-sidecar package: no public CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = TIME_ZONE
# Seconds before Redis hands an unacknowledged task to another worker. Tasks are idempotent
# and never scheduled with an ETA beyond a few minutes (deadlines live in the database).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
# Deadlines live in the database; beat only scans them (seconds between runs).
CELERY_BEAT_SCHEDULE: dict = {
    "tasks-overdue-scan": {"task": "patrol.tasks.tasks_overdue_scan_task", "schedule": 60.0},
    "cases-evaluate-due": {"task": "patrol.tasks.cases_evaluate_due_task", "schedule": 3600.0},
}

# GDAL 3.6 (Debian 12) cannot block file and network access while parsing spatial references
# (gis.W001). We never hand user-supplied SRS, WKT with a CRS or files to GDAL: see
# docs/DECISIONS.md.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# The service area and the geography of the demo.
CIVICMAP_METRIC_SRID = 4548  # CGCS2000 / 3-degree Gauss-Kruger CM 117E, metres.

# Reporting limits (issue: rider reporting).
# Open311 GeoReport v2 (issues/open311): hosts whose media_url is fetched, "host" (any port)
# or "host:port"; any other host is refused with 400. Empty: no media is accepted.
OPEN311_MEDIA_HOSTS = env_list("OPEN311_MEDIA_HOSTS", [])
# The jurisdiction_id this endpoint answers to (clients may leave it out).
OPEN311_JURISDICTION_ID = env_str("OPEN311_JURISDICTION_ID", "nanyuan.fengtai.beijing")

REPORTS_PER_HOUR_PER_RIDER = env_int("REPORTS_PER_HOUR_PER_RIDER", 30)
PHOTO_MAX_BYTES = env_int("PHOTO_MAX_BYTES", 10 * 1024 * 1024)
PHOTO_MAX_PIXELS = env_int("PHOTO_MAX_PIXELS", 40_000_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
