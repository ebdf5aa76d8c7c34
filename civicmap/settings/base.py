"""Settings shared by every environment; deployment values come from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _
from whitenoise.compress import Compressor

from civicmap.env import database_from_url, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
# No fallback secret outside DEBUG: sessions, password resets and the stations' signed QR codes
# are only as secret as this key. `make run` keeps a generated one in var/secret_key (scripts/
# lib.sh secret_key_ensure), which hand-run commands read too (DJANGO_SECRET_KEY_FILE); the
# test settings set their own before importing this module.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
_SECRET_KEY_FILE = Path(env_str("DJANGO_SECRET_KEY_FILE", str(BASE_DIR / "var" / "secret_key")))
if not SECRET_KEY and _SECRET_KEY_FILE.is_file():
    SECRET_KEY = _SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY or DJANGO_SECRET_KEY_FILE (make setup keeps one in "
            "var/secret_key), or DJANGO_DEBUG=1 "
            "for a development server with a throwaway key.")
    SECRET_KEY = "insecure-development-key-debug-only"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
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
    # After civicmap, whose admin/base_site.html extends the admin's own (accessibility fixes
    # on every admin page); no other template or static file of these apps shares a name.
    "django.contrib.admin",
    "issues",
    "patrol",
    "stations",
    "frontend",
    "fixtures",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Remembers where the primary stood after a client's writes (read-your-writes on a replica).
    "civicmap.replica.ReplicaStickyMiddleware",
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
                "frontend.context_processors.navigation",
                "frontend.context_processors.calendar_warning",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", "postgis://root@127.0.0.1:5432/civicmap")
    ),
}
# A read replica (a PostgreSQL streaming standby; scripts/replica.sh makes one locally), when a
# deployment has one: reads that may be a few seconds stale go there, each client's reads right
# after its own writes do not (civicmap/replica.py, docs/DECISIONS.md D-050). Unset: every
# read goes to the primary.
if env_str("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = database_from_url(env_str("DATABASE_REPLICA_URL"))
    # A replica that does not answer costs a request this long once, then is left alone for
    # REPLICA_RETRY_S (seconds).
    DATABASES["replica"]["OPTIONS"].setdefault("connect_timeout", 2)
REPLICA_DATABASE = "replica" if "replica" in DATABASES else ""
# Reads go to the primary while the replica is this many seconds behind (or more).
REPLICA_MAX_LAG_S = env_int("REPLICA_MAX_LAG_S", 10)
REPLICA_RETRY_S = env_int("REPLICA_RETRY_S", 10)
DATABASE_ROUTERS = ["civicmap.replica.ReplicaRouter"]
# Seconds a web process keeps its database connection: a new connection per request costs
# more than a nearest-station query (docs/BENCHMARKS.md).
for _database in DATABASES.values():
    _database["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    _database["CONN_HEALTH_CHECKS"] = True
# PostgreSQL's JIT compiler off for the app's connections (a startup option, after any options
# of the URL): the map's queries are estimated above jit_above_cost because PostGIS functions
# carry high costs, and compiling them took 0.4-0.9 s, longer than running them (DECISIONS.md).
for _database in DATABASES.values():
    _options = _database.setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
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
# WhiteNoise compresses each static file with brotli at its best (about 0.5 MB/s) and gzip.
# Source maps are 40 of the 68 MB collected and only a developer's tools fetch them: served
# as they are, collectstatic takes a third of the time.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "civicmap.api.authentication.TokenWithRiderAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # DRF's three, with multipart read by the ``multipart`` library under Django's rules (D-089).
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "civicmap.api.parsers.MultipartFormParser",
    ],
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
    # Every operation documents the API's one error shape (civicmap/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "civicmap.api.schema.error_responses_add",
    ],
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

# GDAL 3.6 (Debian 12) cannot block file and network access while parsing spatial references
# (gis.W001). The API never hands user-supplied SRS, WKT with a CRS or files to GDAL; geography
# files are read in civicmap/geofiles.py only, within the bounds of docs/DECISIONS.md (D-002,
# D-063).
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# Reporting limits (issue: rider reporting).
# Stations: the walking radius a station covers unless it sets its own, and how close a rider
# must stand to check in (metres).
STATION_COVERAGE_RADIUS_M = env_int("STATION_COVERAGE_RADIUS_M", 500)
STATION_CHECKIN_MAX_DISTANCE_M = env_int("STATION_CHECKIN_MAX_DISTANCE_M", 150)

# Open311 GeoReport v2 (issues/open311): hosts whose media_url is fetched, "host" (any port)
# or "host:port"; any other host is refused with 400. Empty: no media is accepted.
OPEN311_MEDIA_HOSTS = env_list("OPEN311_MEDIA_HOSTS", [])
# This endpoint's own jurisdiction_id: the whole district, as leaving it out (a subdistrict's
# code narrows a call to that subdistrict; D-052). The default is the id clients sent before.
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

# ==========================================================================================
# FRONTEND: maps and pages (owned by frontend/). Vendored assets, basemap, map defaults.
# ==========================================================================================
# Every JS/CSS/font/icon of our pages comes from our own origin: npm packages installed in
# frontend/node_modules (`npm ci` in scripts/setup.sh), served by staticfiles under vendor/.
# Folium's own copies of the heatmap.js builds its HeatMapWithTime expects (folium/templates,
# three .js files) are served the same way, so the versions match the plugin.
FRONTEND_NODE_MODULES = BASE_DIR / "frontend" / "node_modules"
from importlib.util import find_spec  # noqa: E402  (kept inside this block)

_FOLIUM_TEMPLATES = Path(str(find_spec("folium").origin)).parent / "templates"  # type: ignore[union-attr]
STATICFILES_DIRS += [
    ("vendor/leaflet", FRONTEND_NODE_MODULES / "leaflet" / "dist"),
    ("vendor/leaflet.heat", FRONTEND_NODE_MODULES / "leaflet.heat" / "dist"),
    ("vendor/leaflet.markercluster", FRONTEND_NODE_MODULES / "leaflet.markercluster" / "dist"),
    ("vendor/leaflet.awesome-markers", FRONTEND_NODE_MODULES / "leaflet.awesome-markers" / "dist"),
    ("vendor/leaflet-timedimension", FRONTEND_NODE_MODULES / "leaflet-timedimension" / "dist"),
    ("vendor/jquery", FRONTEND_NODE_MODULES / "jquery" / "dist"),
    ("vendor/bootstrap", FRONTEND_NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/fontawesome/css", FRONTEND_NODE_MODULES / "@fortawesome" / "fontawesome-free" / "css"),
    ("vendor/fontawesome/webfonts",
     FRONTEND_NODE_MODULES / "@fortawesome" / "fontawesome-free" / "webfonts"),
    ("vendor/ol", FRONTEND_NODE_MODULES / "ol" / "dist"),
    ("vendor/folium", _FOLIUM_TEMPLATES),
]
# Single files that sit beside files we must not publish (frontend.finders.VendorFileFinder).
FRONTEND_VENDOR_FILES = {
    "vendor/ol/ol.css": FRONTEND_NODE_MODULES / "ol" / "ol.css",
    "vendor/iso8601-js-period/iso8601.js":
        FRONTEND_NODE_MODULES / "iso8601-js-period" / "iso8601.js",
}
# The phone pages' QR reader where the browser has no BarcodeDetector (loaded only to scan).
FRONTEND_VENDOR_FILES["vendor/jsqr/jsQR.js"] = FRONTEND_NODE_MODULES / "jsqr" / "dist" / "jsQR.js"
# The office's charts (statistics, the governance report's pages): Apache ECharts' one-file build.
FRONTEND_VENDOR_FILES["vendor/echarts/echarts.min.js"] = (
    FRONTEND_NODE_MODULES / "echarts" / "dist" / "echarts.min.js")
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "frontend.finders.VendorFileFinder",
]

# Basemap tiles under the overlays: tianditu | none | osm | amap. The default reaches no foreign
# server (D-074): Tianditu when a key is set, else "none", a plain background of our own
# community and unit grid outlines (served by frontend:map-background), readable on an
# intranet. Amap's tiles are in GCJ-02: with "amap" every overlay is shifted from WGS 84 to
# GCJ-02 before drawing. The Tianditu key is a browser key: it is in every tile URL the
# browser fetches (docs/SECURITY.md), and is never logged.
TIANDITU_KEY = env_str("TIANDITU_KEY", "")
BASEMAP = env_str("BASEMAP", "tianditu" if TIANDITU_KEY else "none")

# Map defaults: the report period (days), hotspot clustering of open cases (ST_ClusterDBSCAN
# in EPSG:4548: eps in metres, minimum cases per cluster), and the zoom at which unit grids
# appear. Tuned on the demo's density (about 500 open cases per km² over 30 days).
MAP_PERIOD_DAYS = env_int("MAP_PERIOD_DAYS", 30)
MAP_HOTSPOT_EPS_M = env_int("MAP_HOTSPOT_EPS_M", 50)
MAP_HOTSPOT_MIN_CASES = env_int("MAP_HOTSPOT_MIN_CASES", 10)
MAP_UNIT_GRID_MIN_ZOOM = 15
# Where login and logout lead when no ?next= says otherwise (the pages live in frontend/).
LOGIN_REDIRECT_URL = "/map/"
LOGOUT_REDIRECT_URL = "/map/"
# The office console asks for new cases this often (milliseconds).
OFFICE_POLL_MS = env_int("OFFICE_POLL_MS", 10_000)
# The office console keeps the counts beside its filters this many seconds (0: counted on every
# request): frontend.console_views, D-056.
CONSOLE_FACETS_CACHE_S = env_int("CONSOLE_FACETS_CACHE_S", 30)
# The governance map's default view (MAP_PERIOD_DAYS, every category) is computed by beat
# every MAP_SNAPSHOT_INTERVAL_S seconds for each audience and language and served from the
# database while younger than MAP_SNAPSHOT_MAX_AGE_S; older (beat stopped) or any other
# filter: computed per request (frontend.selectors.map_layers, docs/DECISIONS.md). A refresh
# still queued when the next is due is dropped (expires).
MAP_SNAPSHOT_INTERVAL_S = env_int("MAP_SNAPSHOT_INTERVAL_S", 300)
MAP_SNAPSHOT_MAX_AGE_S = env_int("MAP_SNAPSHOT_MAX_AGE_S", 2 * MAP_SNAPSHOT_INTERVAL_S)
# Any other view's layers are kept in the shared cache (Redis) this many seconds under the
# filters, audience, language and the aggregates' version (0: computed on every request):
# never older than the snapshot may be (frontend.selectors.map_layers, D-077).
MAP_LIVE_CACHE_S = env_int("MAP_LIVE_CACHE_S", MAP_SNAPSHOT_INTERVAL_S)
# A live map reads its heat cells, hotspots and community case counts on three more
# connections of each web process, beside the request's own (civicmap.beside, D-095), while
# the machine's 1-minute load average is below this (default: the cores this process may
# run on): a filter's first request then waits for the slowest read, not their sum; with no
# core to spare the reads would only queue for it. 0: never.
MAP_READS_BESIDE_BELOW_LOAD = env_int("MAP_READS_BESIDE_BELOW_LOAD",
                                      len(os.sched_getaffinity(0)))
# The unit grids' shapes (the same for every filter, changed by an import only) are kept this
# long in the shared cache and in browsers (frontend.views.map_unit_grids; 0: not cached).
MAP_UNIT_GRIDS_CACHE_S = env_int("MAP_UNIT_GRIDS_CACHE_S", 3600)

# The statistics read a daily aggregate (patrol.facts, docs/DECISIONS.md D-059): its recent days
# are recounted every STATS_FACTS_REFRESH_S seconds, back STATS_FACTS_RECENT_DAYS days (this
# month and the last whole); every day once a day (the late changes of older cases).
STATS_FACTS_REFRESH_S = env_int("STATS_FACTS_REFRESH_S", 600)
STATS_FACTS_RECENT_DAYS = env_int("STATS_FACTS_RECENT_DAYS", 62)
# The figures are cached under the facts' version (a recount makes a new one); this only bounds
# how long an unused entry stays in Redis (seconds).
STATS_CACHE_S = env_int("STATS_CACHE_S", 3600)
# ==========================================================================================

# ==========================================================================================
# NOTIFICATIONS, OUTGOING WEBHOOK AND RIDER POINTS (owned by patrol/services/notify.py,
# patrol/webhooks.py, issues/services/points.py).
# ==========================================================================================
# The outgoing webhook (patrol/webhooks.py documents the headers and the signature): every
# notification is POSTed to WEBHOOK_URL, signed with WEBHOOK_SECRET. Empty URL: no webhook.
WEBHOOK_URL = env_str("WEBHOOK_URL", "")
WEBHOOK_SECRET = env_str("WEBHOOK_SECRET", "")
if WEBHOOK_URL and not WEBHOOK_SECRET:
    from django.core.exceptions import ImproperlyConfigured  # noqa: E402  (kept in this block)

    raise ImproperlyConfigured("WEBHOOK_URL is set: set WEBHOOK_SECRET too.")
# Notification kinds sent through the webhook (comma list); empty: every kind.
WEBHOOK_KINDS = env_list("WEBHOOK_KINDS", [])
WEBHOOK_TIMEOUT_S = env_int("WEBHOOK_TIMEOUT_S", 10)  # per attempt (connect and read)
# Retries: BASE × 2^(attempts − 1) seconds, at most MAX; failed (shown in the admin) once
# GIVE_UP_AFTER seconds have passed since the notification.
WEBHOOK_BACKOFF_BASE_S = env_int("WEBHOOK_BACKOFF_BASE_S", 10)
WEBHOOK_BACKOFF_MAX_S = env_int("WEBHOOK_BACKOFF_MAX_S", 3600)
WEBHOOK_GIVE_UP_AFTER_S = env_int("WEBHOOK_GIVE_UP_AFTER_S", 24 * 3600)
# A queued attempt holds its delivery this long; past it the dispatcher queues it again (a task
# lost by the broker). Longer than the queue's wait plus WEBHOOK_TIMEOUT_S.
WEBHOOK_CLAIM_LEASE_S = env_int("WEBHOOK_CLAIM_LEASE_S", 120)
WEBHOOK_DISPATCH_EVERY_S = env_int("WEBHOOK_DISPATCH_EVERY_S", 15)
# A team hears of a deadline in the last this-many per cent of the time it was given.
TASK_DEADLINE_NEAR_PERCENT = env_int("TASK_DEADLINE_NEAR_PERCENT", 20)

# Rider recognition (先锋骑手): points when a case is verified, per rider and case once. The
# first reporter earns more than later reporters and confirmers; a rider earns at most
# POINTS_DAILY_CAP a day (Asia/Shanghai), so that confirming everything in sight does not pay.
POINTS_FIRST_REPORTER = env_int("POINTS_FIRST_REPORTER", 10)
POINTS_CONFIRMER = env_int("POINTS_CONFIRMER", 3)
POINTS_DAILY_CAP = env_int("POINTS_DAILY_CAP", 30)
# Metres (on the spheroid) a rider may be from a case to confirm it: the nearby list's 250 m
# plus GPS slack. A category whose duplicate radius is larger allows that radius instead.
CONFIRM_MAX_DISTANCE_M = env_int("CONFIRM_MAX_DISTANCE_M", 300)
# ==========================================================================================

# ==========================================================================================
# LOGINS, CLIENT ADDRESSES AND KEYS (issue 14, "deploy": civicmap/net.py, civicmap/logins.py).
# ==========================================================================================
from datetime import timedelta  # noqa: E402  (kept inside this block)

# How many reverse proxies of ours stand in front of the web server; each appends one entry to
# X-Forwarded-For. 0: none, REMOTE_ADDR is the client and X-Forwarded-For is ignored (a client
# can write anything in it). One number for civicmap.net.client_ip, axes and DRF's throttles.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
# Login lockout (django-axes): after LOGIN_FAILURE_LIMIT failed passwords for one username, or
# from one address, that username or address is refused for LOGIN_COOLOFF_MINUTES, on the
# admin's login, /accounts/login/ and /phone/token/. Counted in the database (no Redis needed).
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out client before checking
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # turns a lockout into civicmap.logins' page
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one reaching the limit locks
AXES_CLIENT_IP_CALLABLE = "civicmap.net.client_ip"
AXES_LOCKOUT_CALLABLE = "civicmap.logins.lockout_response"
AXES_RESET_ON_SUCCESS = True  # a right password clears that username's and address's count
AXES_VERBOSE = False  # no banner on every manage.py command; failures are still logged
# Open311: posts per hour per ApiClient key (a rider's token is held to
# REPORTS_PER_HOUR_PER_RIDER instead); 429 in Open311's error format beyond it.
OPEN311_REQUESTS_PER_HOUR_PER_KEY = env_int("OPEN311_REQUESTS_PER_HOUR_PER_KEY", 60)
# ==========================================================================================

# ==========================================================================================
# FAULTS: THE PHOTO OUTBOX, REDIS OUTAGES AND RETENTION OF ORIGINALS (owned by
# issues/services/photos.py, issues/tasks.py, civicmap/cache.py; docs/SECURITY.md "Fault
# behaviour").
# ==========================================================================================
# The cache fails open while Redis is unreachable (an empty cache that forgets writes, logged):
# it holds only throttle counters; the login lockout counts in PostgreSQL. Seconds to connect
# and to answer, so that a Redis host that does not answer cannot hold a request long.
CACHES["default"]["BACKEND"] = "civicmap.cache.FailOpenRedisCache"
CACHES["default"]["OPTIONS"] = {
    "socket_connect_timeout": env_int("REDIS_CONNECT_TIMEOUT_S", 1),
    "socket_timeout": env_int("REDIS_TIMEOUT_S", 1),
}
# Publishing a job must not hang on a Redis host that does not answer (seconds).
CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = env_int("REDIS_CONNECT_TIMEOUT_S", 1)
# A pending photo is its own renditions job (the outbox). The sweep hands to Celery, every
# PHOTO_SWEEP_EVERY_S seconds, the pending photos never queued and older than
# PHOTO_QUEUE_GRACE_S seconds (Redis was down at intake), and those queued more than
# PHOTO_QUEUE_LEASE_S seconds ago and still pending (the job was lost with Redis, or its worker
# died). A job started PHOTO_JOB_MAX_ATTEMPTS times without finishing marks its photo failed.
PHOTO_QUEUE_GRACE_S = env_int("PHOTO_QUEUE_GRACE_S", 10)
PHOTO_QUEUE_LEASE_S = env_int("PHOTO_QUEUE_LEASE_S", 600)
PHOTO_SWEEP_EVERY_S = env_int("PHOTO_SWEEP_EVERY_S", 15)
PHOTO_JOB_MAX_ATTEMPTS = env_int("PHOTO_JOB_MAX_ATTEMPTS", 5)
# An Open311 media_url is fetched by the same kind of outbox job (the report's media_status):
# the sweep below queues pending fetches never queued after PHOTO_QUEUE_GRACE_S, or queued more
# than OPEN311_MEDIA_LEASE_S × attempts seconds ago (a host that did not answer is asked less
# often each time); a fetch started OPEN311_MEDIA_MAX_ATTEMPTS times without the file fails.
OPEN311_MEDIA_LEASE_S = env_int("OPEN311_MEDIA_LEASE_S", 300)
OPEN311_MEDIA_MAX_ATTEMPTS = env_int("OPEN311_MEDIA_MAX_ATTEMPTS", 3)
# Originals (with their EXIF: position, time, device) are deleted this many days after upload,
# checked hourly; the display copy and thumbnail stay.
PHOTO_ORIGINAL_RETENTION_DAYS = env_int("PHOTO_ORIGINAL_RETENTION_DAYS", 180)
# The monthly governance report (frontend.reports) is its own outbox job, like a photo: the
# sweep queues, every REPORT_SWEEP_EVERY_S seconds, reports waiting and never queued after
# REPORT_QUEUE_GRACE_S seconds, and those queued more than REPORT_QUEUE_LEASE_S seconds ago and
# still waiting or under way (a report takes seconds; its worker died). Beat asks for every
# subdistrict's last month each day at REPORT_MONTHLY_HOUR:30 local time: on the 1st that makes
# them, later days only catch up a missed run (idempotent).
REPORT_QUEUE_GRACE_S = env_int("REPORT_QUEUE_GRACE_S", 30)
REPORT_QUEUE_LEASE_S = env_int("REPORT_QUEUE_LEASE_S", 600)
REPORT_SWEEP_EVERY_S = env_int("REPORT_SWEEP_EVERY_S", 60)
REPORT_MONTHLY_HOUR = env_int("REPORT_MONTHLY_HOUR", 1)
# The PDF's Chinese font: the Debian package fonts-wqy-microhei (scripts/setup.sh installs it).
REPORT_FONT_PATH = env_str("REPORT_FONT_PATH", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# ==========================================================================================

# ==========================================================================================
# CELERY BEAT: the one table of periodic jobs (seconds between runs; the intervals are set in
# the sections above). Every task lives in its app's tasks.py, which the worker autodiscovers.
# "expires": a run still queued when the next is due is dropped, not run twice.
# ==========================================================================================
CELERY_BEAT_SCHEDULE = {
    # Deadlines live in the database; beat only scans them.
    "tasks-overdue-scan": {"task": "patrol.tasks.tasks_overdue_scan_task", "schedule": 60.0},
    "tasks-deadline-near-scan": {
        "task": "patrol.tasks.tasks_deadline_near_scan_task", "schedule": 60.0,
    },
    "cases-evaluate-due": {"task": "patrol.tasks.cases_evaluate_due_task", "schedule": 3600.0},
    "webhook-deliveries-dispatch": {
        "task": "patrol.tasks.webhook_deliveries_dispatch_task",
        "schedule": float(WEBHOOK_DISPATCH_EVERY_S),
    },
    "map-snapshot-refresh": {
        "task": "frontend.tasks.map_snapshot_refresh_task",
        "schedule": float(MAP_SNAPSHOT_INTERVAL_S),
        "options": {"expires": float(MAP_SNAPSHOT_INTERVAL_S)},
    },
    "photos-pending-queue": {
        "task": "issues.tasks.photos_pending_queue_task",
        "schedule": float(PHOTO_SWEEP_EVERY_S),
        "options": {"expires": float(PHOTO_SWEEP_EVERY_S)},
    },
    "open311-media-pending-queue": {
        "task": "issues.tasks.open311_media_pending_queue_task",
        "schedule": float(PHOTO_SWEEP_EVERY_S),
        "options": {"expires": float(PHOTO_SWEEP_EVERY_S)},
    },
    "photo-originals-expire": {
        "task": "issues.tasks.photo_originals_expire_task", "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "case-facts-refresh": {
        "task": "patrol.tasks.case_facts_refresh_task",
        "schedule": float(STATS_FACTS_REFRESH_S),
        "options": {"expires": float(STATS_FACTS_REFRESH_S)},
    },
    "case-facts-rebuild": {
        "task": "patrol.tasks.case_facts_rebuild_task", "schedule": 86400.0,
        "options": {"expires": 86400.0},
    },
    # Local time (CELERY_TIMEZONE): every subdistrict's report of last month, on the 1st.
    "governance-reports-monthly": {
        "task": "frontend.tasks.governance_reports_monthly_task",
        "schedule": crontab(minute=30, hour=REPORT_MONTHLY_HOUR),
        "options": {"expires": 3600.0},
    },
    "governance-reports-pending-queue": {
        "task": "frontend.tasks.governance_reports_pending_queue_task",
        "schedule": float(REPORT_SWEEP_EVERY_S),
        "options": {"expires": float(REPORT_SWEEP_EVERY_S)},
    },
}
