"""Settings for the test suite: the same real PostGIS and Redis as production, faster hashing."""

import os
from pathlib import Path

# The base settings refuse to start without a secret outside DEBUG; tests get a fixed one, set
# before base is imported (subprocesses of the suite inherit it).
os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-test-key-for-the-test-settings-only")

from civicmap.env import database_from_url, env_str  # noqa: E402
from civicmap.settings.base import *  # noqa: E402, F403
from civicmap.settings.base import BASE_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A fault test's worker process is given the test's own media folder (TEST_MEDIA_ROOT).
MEDIA_ROOT = Path(env_str("TEST_MEDIA_ROOT", str(BASE_DIR / "var" / "test-media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# A Redis database of its own, so test tasks never reach a development worker's queue.
CELERY_BROKER_URL = env_str("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
CACHES = {"default": {**CACHES["default"],  # noqa: F405  (base's backend, failing open)
                      "LOCATION": env_str("TEST_REDIS_CACHE_URL", "redis://127.0.0.1:6379/14")}}
# The statistics' figures uncached: every test reads the facts it recounted, whatever an earlier
# test left in Redis (tests/patrol/test_stats.py turns the cache on where it tests it).
STATS_CACHE_S = 0
# Parallel test runs on one machine (developers, helpers) each need their own database.
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_civicmap")}  # noqa: F405

# The read replica: the real standby of the local cluster (scripts/replica.sh, started by `make
# test`), which holds the test database too (physical replication copies the whole cluster).
# MIRROR: Django creates nothing there, it reads the test database under default's test name.
# Tests read the primary (their rows are in an uncommitted transaction) unless a test turns
# routing on with REPLICA_DATABASE (tests/civicmap/test_replica.py).
DATABASES["replica"] = {  # noqa: F405
    **DATABASES["default"],  # noqa: F405
    **{key: value for key, value in database_from_url(env_str(
        "DATABASE_REPLICA_URL", "postgis://root@127.0.0.1:5433/civicmap")).items()
       if key in ("HOST", "PORT", "USER", "PASSWORD")},
    "OPTIONS": {**DATABASES["default"]["OPTIONS"], "connect_timeout": 2},  # noqa: F405
    "TEST": {"MIRROR": "default"},
}
REPLICA_DATABASE = ""
# The console's counts afresh on every request (a kept count would outlive a test's data);
# tests/frontend/test_console_api.py turns the cache on where it tests it.
CONSOLE_FACETS_CACHE_S = 0
