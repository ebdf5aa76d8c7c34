"""The cache on Redis, failing open: while Redis cannot be reached it behaves as an empty cache
that forgets every write, and says so in the log, instead of turning each request into a 500.

What the cache holds here is expendable: DRF's throttle counters (the phone's sign-in, any API
throttle) and each client's last write position (civicmap.replica, which reads the primary
while the cache is failing, ``cache_failed_within``). Failing open means a throttle does not
count while Redis is down; the guard that matters for sign-in, the login lockout
(django-axes), counts in PostgreSQL and keeps working (docs/SECURITY.md, "Fault behaviour").
Failing closed would refuse every sign-in during the outage. Only unavailability fails open
(connection refused or reset, timeouts); any other Redis error is a bug and is raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
WARN_EVERY_S = 30.0  # one warning per process this often while Redis stays down (seconds)
_NOT_FOUND = object()


class _Warner:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0
        self.failed_at = float("-inf")  # time.monotonic() of the last failure, warned or not

    def warn(self, operation: str, error: Exception) -> None:
        with self._lock:
            now = time.monotonic()
            self.failed_at = now
            if now - self._last < WARN_EVERY_S:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        logger.warning("Cache unavailable, failing open (%s: %s); %s more since the last "
                       "warning", operation, error, suppressed)


_warner = _Warner()


def cache_failed_within(seconds: float) -> bool:
    """Whether this process found the cache unavailable in the last ``seconds``: what it read
    then may be missing a write it forgot (civicmap.replica trusts no missing key meanwhile)."""
    return time.monotonic() - _warner.failed_at < seconds


def _fail_open(empty: Any) -> Callable:
    """Run the operation; while Redis is unreachable answer what an empty cache would: ``empty``,
    ``empty()`` for a type, or raise it for an exception class."""

    def decorate(method: Callable) -> Callable:
        @wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNAVAILABLE as error:
                _warner.warn(method.__name__, error)
                if isinstance(empty, type) and issubclass(empty, BaseException):
                    raise empty(f"Key not found: the cache is unavailable ({error}).") from error
                return empty() if callable(empty) else empty

        return wrapper

    return decorate


class FailOpenRedisCacheClient(RedisCacheClient):
    add = _fail_open(True)(RedisCacheClient.add)  # an empty cache takes the key
    set = _fail_open(None)(RedisCacheClient.set)
    touch = _fail_open(False)(RedisCacheClient.touch)
    delete = _fail_open(False)(RedisCacheClient.delete)
    get_many = _fail_open(dict)(RedisCacheClient.get_many)
    has_key = _fail_open(False)(RedisCacheClient.has_key)
    incr = _fail_open(ValueError)(RedisCacheClient.incr)  # as for a missing key
    set_many = _fail_open(None)(RedisCacheClient.set_many)
    delete_many = _fail_open(None)(RedisCacheClient.delete_many)
    clear = _fail_open(False)(RedisCacheClient.clear)

    @_fail_open(_NOT_FOUND)
    def _get(self, key, default):
        return RedisCacheClient.get(self, key, default)

    def get(self, key, default):
        value = self._get(key, default)
        return default if value is _NOT_FOUND else value


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache with FailOpenRedisCacheClient (settings: CACHES' BACKEND)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = FailOpenRedisCacheClient
