"""The cache fails open while Redis is down: an empty cache that forgets writes, logged once per
WARN_EVERY_S, never an exception into the request; back to normal when Redis is back."""

from __future__ import annotations

import logging

import pytest

from civicmap import cache as fail_open
from civicmap.cache import FailOpenRedisCache
from tests.issues.faults import RedisServer


def _cache(server: RedisServer) -> FailOpenRedisCache:
    return FailOpenRedisCache(server.url(0), {"OPTIONS": {"socket_connect_timeout": 1,
                                                          "socket_timeout": 1}})


def test_a_cache_on_a_dead_redis_answers_as_an_empty_cache(redis_server, caplog, monkeypatch):
    monkeypatch.setattr(fail_open, "_warner", fail_open._Warner())
    cache = _cache(redis_server)
    cache.set("throttle", [1, 2, 3])
    assert cache.get("throttle") == [1, 2, 3]
    redis_server.kill()

    with caplog.at_level(logging.WARNING, logger="civicmap.cache"):
        assert cache.get("throttle", "default") == "default"
        assert cache.get("throttle") is None
        cache.set("throttle", [4])  # forgotten, no exception
        assert cache.add("lock", 1) is True
        assert cache.get_many(["a", "b"]) == {}
        assert cache.has_key("throttle") is False
        assert cache.delete("throttle") is False
        with pytest.raises(ValueError):
            cache.incr("counter")  # as for a key an empty cache does not hold
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1  # once per WARN_EVERY_S, not once per call
    assert "failing open" in warnings[0].getMessage()

    redis_server.start()  # empty again (no persistence), and the cache works again
    cache.set("throttle", [5])
    assert cache.get("throttle") == [5]


def test_other_redis_errors_are_raised(redis_server):
    """Only unavailability fails open: a wrong command on a live Redis is a bug."""
    cache = _cache(redis_server)
    client = cache._cache.get_client("k", write=True)
    client.rpush(cache.make_and_validate_key("k"), "not a string value")
    with pytest.raises(Exception, match="WRONGTYPE"):
        cache.get("k")
