"""Reads that may be a few seconds stale go to the read replica; writes, and a client's reads
right after its own writes, go to the primary (docs/DECISIONS.md D-050).

Nothing reads the replica unless a view asks: ``replica_reads()`` (a context manager and a
decorator) around the public map, the Open311 reads, the statistics and the lists. Inside it the
ORM's reads go to ``settings.REPLICA_DATABASE`` (``ReplicaRouter``) and raw SQL takes
``read_connection()``, unless, when the block begins:

- no replica is configured (``DATABASE_REPLICA_URL`` unset): everything reads the primary;
- the primary is inside a transaction (``transaction.atomic``): it may have written;
- the client wrote and the replica has not replayed that write yet (read-your-writes, the
  "sticky" reads of GitLab's database load balancing): ``ReplicaStickyMiddleware`` keeps, after
  each request that wrote, the primary's WAL position for the client (its user, else its
  address) in the shared cache for ``2 × REPLICA_MAX_LAG_S``, and the block compares it with
  the replica's ``pg_last_wal_replay_lsn()``; while the cache is failing open the block trusts
  no missing record and reads the primary;
- the replica is down, not a standby, not receiving WAL, or more than ``REPLICA_MAX_LAG_S``
  behind: the primary (after a failed connection, for ``REPLICA_RETRY_S`` without trying).

Writes always go to the primary (``db_for_write``), so nothing is ever written to the replica,
and migrations run only there. The state is per request (context variables) or shared (the
cache): a second web server sees a client's writes the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

from civicmap.cache import cache_failed_within
from civicmap.net import client_ip
from civicmap.sql import PRIMARY_WAL_POSITION, REPLICA_STATE

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CACHE_KEY = "replica:written:{client}"
NO_POSITION = "0/0"


@dataclass
class _RequestState:
    request: HttpRequest
    wrote: bool = False
    user_id: int | None = None  # a user the view identified itself (replica_client_identify)


# The alias reads go to inside the current replica_reads() block (None: the primary; unset:
# outside any block), and the request being served (set by ReplicaStickyMiddleware).
_OUTSIDE = "<outside>"
_block_alias: ContextVar[str | None] = ContextVar("civicmap_replica_alias", default=_OUTSIDE)
_request_state: ContextVar[_RequestState | None] = ContextVar("civicmap_replica_request",
                                                              default=None)
# Monotonic time before which this process does not try the replica again (it was unreachable).
_retry_after = float("-inf")


def _replica_alias() -> str | None:
    return getattr(settings, "REPLICA_DATABASE", "") or None


def _primary_in_transaction() -> bool:
    return connections[DEFAULT_DB_ALIAS].in_atomic_block


def _client_key(state: _RequestState) -> str:
    """Whose writes these are: the user the view identified (``replica_client_identify``),
    else the signed-in user (a session or an API token, which DRF has set on the request by the
    time the view runs), else the client's address."""
    if state.user_id is not None:
        return CACHE_KEY.format(client=f"user:{state.user_id}")
    user = getattr(state.request, "user", None)
    if user is not None and user.is_authenticated:
        return CACHE_KEY.format(client=f"user:{user.pk}")
    return CACHE_KEY.format(client=f"ip:{client_ip(state.request)}")


def replica_client_identify(*, user_id: int) -> None:
    """This request is this user's, though neither Django nor DRF authenticated it (an Open311
    post with a rider's app token in ``api_key``): their next reads, signed in as themselves,
    wait for the replica to replay what it wrote."""
    state = _request_state.get()
    if state is not None:
        state.user_id = user_id


def _written_position() -> str | None:
    """The primary's WAL position after this client's last write, "0/0" when it wrote nothing
    lately, None when that cannot be known (the cache failing open)."""
    state = _request_state.get()
    if state is None:
        return NO_POSITION  # a task or a command: nobody to read their own writes
    position = cache.get(_client_key(state))
    if cache_failed_within(settings.REPLICA_MAX_LAG_S):
        return None
    return position or NO_POSITION


def _replica_usable(alias: str, *, written: str) -> bool:
    """One query on the replica: a standby, receiving WAL, within the lag bound and past the
    client's last write. An unreachable replica is not tried again for REPLICA_RETRY_S."""
    global _retry_after
    if time.monotonic() < _retry_after:
        return False
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(REPLICA_STATE, [written])
            standby, receiving, lag_s, caught_up = cursor.fetchone()
    except DatabaseError as error:
        _retry_after = time.monotonic() + settings.REPLICA_RETRY_S
        connections[alias].close()
        logger.warning("Replica %r unavailable, reading the primary for %s s: %s", alias,
                       settings.REPLICA_RETRY_S, error)
        return False
    if not standby:
        logger.warning("Database %r is not a standby: reading the primary", alias)
        return False
    return bool(receiving and lag_s <= settings.REPLICA_MAX_LAG_S and caught_up)


def _block_alias_choose() -> str | None:
    alias = _replica_alias()
    if alias is None or _primary_in_transaction():
        return None
    written = _written_position()
    if written is None:
        return None
    return alias if _replica_usable(alias, written=written) else None


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads in this block may come from the replica (see the module's docstring for when they
    do not). Only for reads that may be a few seconds stale; writes inside still go to the
    primary. Also a decorator: ``@replica_reads()``. A block inside another keeps its choice."""
    if _block_alias.get() != _OUTSIDE:
        yield
        return
    token = _block_alias.set(_block_alias_choose())
    try:
        yield
    finally:
        _block_alias.reset(token)


def read_alias() -> str:
    """The database alias that reads here go to: the replica inside a ``replica_reads()``
    block that chose it (and not within a transaction on the primary), else the primary."""
    alias = _block_alias.get()
    if alias in (None, _OUTSIDE) or _primary_in_transaction():
        return DEFAULT_DB_ALIAS
    return alias


def read_connection() -> BaseDatabaseWrapper:
    """The connection for raw SQL that reads (``read_alias``)."""
    return connections[read_alias()]


class ReplicaRouter:
    """DATABASE_ROUTERS: ORM reads follow ``read_alias``; writes and migrations the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        alias = read_alias()
        return None if alias == DEFAULT_DB_ALIAS else alias

    def db_for_write(self, model, **hints) -> str:
        state = _request_state.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # one database and its copy: the same rows

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool | None:
        return None if db == DEFAULT_DB_ALIAS else False


class ReplicaStickyMiddleware:
    """After a request that wrote (an unsafe method, or an ORM write in any request), keep the
    primary's WAL position for its client, so that the client's next reads wait for the replica
    to replay it (``replica_reads``). Does nothing without a replica."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _replica_alias() is None:
            return self.get_response(request)
        state = _RequestState(request)
        token = _request_state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request_state.reset(token)
        if state.wrote or request.method not in SAFE_METHODS:
            primary_position_remember(state)
        return response


def primary_position_remember(state: _RequestState) -> None:
    """Keep the primary's current WAL position (past everything this request committed) for
    the request's client, for twice the lag bound: by then the replica has replayed it or is
    too far behind to be read at all."""
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(PRIMARY_WAL_POSITION)
            (position,) = cursor.fetchone()
    except DatabaseError as error:
        logger.warning("Could not read the primary's WAL position: %s", error)
        return
    cache.set(_client_key(state), position, timeout=2 * settings.REPLICA_MAX_LAG_S)
