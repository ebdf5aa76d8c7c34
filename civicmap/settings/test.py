"""Settings for the test suite: the same real PostGIS and Redis as production, faster hashing."""

import os
from pathlib import Path
from urllib.parse import urlparse

# The base settings refuse to start without a secret outside DEBUG; tests get a fixed one, set
# before base is imported (subprocesses of the suite inherit it).
os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-test-key-for-the-test-settings-only")

from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from civicmap.env import database_from_url, env_str  # noqa: E402
from civicmap.settings.base import *  # noqa: E402, F403
from civicmap.settings.base import BASE_DIR  # noqa: E402

# The suite's Redis databases (broker, cache, the fault tests' spare broker): development uses 0,
# the benchmarks 13 (bench/_common.py), so a parallel run's workers share 1-12 between them.
REDIS_DEFAULTS = {
    "TEST_CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
    "TEST_REDIS_CACHE_URL": "redis://127.0.0.1:6379/2",
    "TEST_SPARE_BROKER_URL": "redis://127.0.0.1:6379/3",
}
REDIS_LAST_DATABASE = 12
MEDIA_DEFAULT = str(BASE_DIR / "var" / "test-media")
# Names the xdist worker whose values the TEST_* variables already hold (set below).
WORKER_DERIVED = "CIVICMAP_TEST_WORKER"


def _redis_database(url: str) -> int:
    return int(urlparse(url).path.strip("/") or 0)


def worker_resources_derive(*, worker: str) -> None:
    """Give xdist worker ``gwN`` Redis databases and a media folder no other worker touches.

    Its Redis databases are the configured ones moved up N times their span (the defaults 1-3:
    gw0 1-3, gw1 4-6, gw2 7-9, gw3 10-12); its media folder is TEST_MEDIA_ROOT plus "-gwN".
    Written back to the environment, so that what a test starts (Celery workers, manage.py)
    inherits the worker's values, and marked with WORKER_DERIVED so those processes, which see
    PYTEST_XDIST_WORKER too, do not move them again. pytest-django suffixes the test database
    itself (test_<name>_gwN), and the replica alias mirrors that name (below).
    """
    index = int(worker.removeprefix("gw"))
    urls = {name: env_str(name, default) for name, default in REDIS_DEFAULTS.items()}
    numbers = [_redis_database(url) for url in urls.values()]
    step = (max(numbers) - min(numbers) + 1) * index
    if max(numbers) + step > REDIS_LAST_DATABASE:
        raise ImproperlyConfigured(
            f"Redis has no databases left for xdist worker {worker} (TEST_CELERY_BROKER_URL, "
            f"TEST_REDIS_CACHE_URL, TEST_SPARE_BROKER_URL use {sorted(numbers)}): run fewer "
            "workers (-n) or configure lower database numbers.")
    for name, url in urls.items():
        os.environ[name] = urlparse(url)._replace(path=f"/{_redis_database(url) + step}").geturl()
    os.environ["TEST_MEDIA_ROOT"] = f"{env_str('TEST_MEDIA_ROOT', MEDIA_DEFAULT)}-{worker}"
    os.environ[WORKER_DERIVED] = worker


_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and os.environ.get(WORKER_DERIVED) != _worker:
    worker_resources_derive(worker=_worker)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A fault test's worker process is given the test's own media folder (TEST_MEDIA_ROOT).
MEDIA_ROOT = Path(env_str("TEST_MEDIA_ROOT", MEDIA_DEFAULT))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# A Redis database of its own, so test tasks never reach a development worker's queue.
CELERY_BROKER_URL = env_str("TEST_CELERY_BROKER_URL", REDIS_DEFAULTS["TEST_CELERY_BROKER_URL"])
# A Redis database no long-running worker reads (tests/issues/faults.py).
TEST_SPARE_BROKER_URL = env_str("TEST_SPARE_BROKER_URL", REDIS_DEFAULTS["TEST_SPARE_BROKER_URL"])
CACHES = {"default": {**CACHES["default"],  # noqa: F405  (base's backend, failing open)
                      "LOCATION": env_str("TEST_REDIS_CACHE_URL",
                                          REDIS_DEFAULTS["TEST_REDIS_CACHE_URL"])}}
# The statistics' figures uncached: every test reads the facts it recounted, whatever an earlier
# test left in Redis (tests/patrol/test_stats.py turns the cache on where it tests it).
STATS_CACHE_S = 0
# Parallel test runs on one machine (developers, helpers) each need their own database; under
# xdist pytest-django appends the worker ("_gw0").
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_civicmap")}  # noqa: F405

# The read replica: the real standby of the local cluster (scripts/replica.sh, started by `make
# test`), which holds the test database too (physical replication copies the whole cluster).
# MIRROR: Django creates nothing there, it reads the test database under default's test name
# (the worker's own under xdist: Django copies default's NAME once it has created it).
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
# The map's filtered views computed on every request, for the same reason;
# tests/frontend/test_map_data.py turns the cache on where it tests it.
MAP_LIVE_CACHE_S = 0
MAP_UNIT_GRIDS_CACHE_S = 0
# WhiteNoise finds a static file when it is asked for it, instead of walking STATIC_ROOT (about
# 1,700 files, each stat'ed with its compressed copies) when its middleware starts: the test
# client starts the middleware anew for every Client, and those walks were a fifth of the
# suite's CPU (docs/DECISIONS.md D-088). A deployed process walks it once, at start.
WHITENOISE_AUTOREFRESH = True
