"""Real faults for the fault tests: a Redis server of the test's own, Celery workers it starts
and kills, and a killer of PostgreSQL backends. Nothing here is mocked: the processes are real.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import kombu.pools
import psycopg2
import redis
from django.conf import settings
from django.db import connection

DEADLINE_S = 15.0


def wait_for(condition: Callable[[], object], *, timeout: float = DEADLINE_S,
             what: str = "condition", every: float = 0.05):
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """``redis-server`` on a free port, no persistence: killing it loses what it held."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, what=f"redis-server on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; clients see their connections reset."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url(db), socket_connect_timeout=1)

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.exceptions.ConnectionError:
            return False


def database_url(name: str | None = None) -> str:
    """The test database's URL (or another database's on the same server), for processes the
    tests start (Celery workers, pg_dump)."""
    params = connection.settings_dict
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    host, port = params["HOST"] or "127.0.0.1", params["PORT"] or 5432
    return f"postgis://{auth}@{host}:{port}/{name or params['NAME']}"


# A Redis database that no long-running worker reads (the session's worker reads the test
# settings' broker): a test points the app here to hold back or run the jobs it queues itself.
SPARE_BROKER_URL = settings.TEST_SPARE_BROKER_URL


@contextmanager
def spare_broker_used() -> Iterator[str]:
    """This process's Celery app publishes to SPARE_BROKER_URL, emptied before and after."""
    redis.Redis.from_url(SPARE_BROKER_URL).flushdb()
    try:
        with celery_broker(SPARE_BROKER_URL):
            yield SPARE_BROKER_URL
    finally:
        redis.Redis.from_url(SPARE_BROKER_URL).flushdb()


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Point this process's Celery app at ``url`` (its producer pools are built again)."""
    from civicmap.celery import app

    def pools_reset() -> None:
        # kombu keeps its connection and producer pools in process-wide registries, keyed by
        # broker: close and forget them all, so neither broker's pool is reused closed.
        kombu.pools.reset()
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    previous = app.conf.broker_url
    app.conf.broker_url = url
    pools_reset()
    try:
        yield
    finally:
        app.conf.broker_url = previous
        pools_reset()


class Worker:
    """A real Celery worker process on ``broker_url``, reading the test database.

    ``pool="prefork"`` with one child: the child can be killed alone, as the kernel's OOM killer
    would, and the parent reports the loss (reject_on_worker_lost). Its log is kept for failures.
    """

    def __init__(self, *, broker_url: str, log_path: Path, pool: str = "solo") -> None:
        self.broker_url, self.log_path, self.pool = broker_url, log_path, pool
        self.process: subprocess.Popen | None = None

    def start(self, *, env: dict[str, str] | None = None) -> None:
        self.log_path.write_bytes(b"")
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "civicmap.settings.test",
            "DATABASE_URL": database_url(),
            "TEST_CELERY_BROKER_URL": self.broker_url,
            "TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            **(env or {}),
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "civicmap", "worker", "--pool", self.pool,
                 "--concurrency", "1", "--loglevel", "info", "--without-mingle",
                 "--without-gossip", "--without-heartbeat"],
                cwd=settings.BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for(lambda: b"ready." in self.log_path.read_bytes() or self.process.poll(),
                 timeout=30, what="the Celery worker to start")
        assert self.process.poll() is None, self.log()

    def child_pids(self) -> list[int]:
        """The pool's worker processes (prefork), read from /proc."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            for pid in self.child_pids() if self.pool == "prefork" else []:
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _dsn() -> str:
    params = connection.settings_dict
    return (f"host={params['HOST'] or '127.0.0.1'} port={params['PORT'] or 5432} "
            f"user={params['USER']} dbname={params['NAME']}")


class BackendKiller:
    """Terminates the test database's other PostgreSQL backends about every ``every`` seconds
    (0.5 to 1.5 times, at random), from a connection of its own (``pg_terminate_backend``),
    sparing the ``spare`` pids (the test's own connection)."""

    def __init__(self, *, spare: set[int], every: float = 0.03) -> None:
        self.spare, self.every = spare, every
        self.killed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendKiller:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        killer = psycopg2.connect(_dsn())
        killer.autocommit = True
        try:
            with killer.cursor() as cursor:
                # Jittered, so that kills land at every point of a request's life; the first
                # one soon, while the burst is surely running.
                wait = random.uniform(0.1, 0.3) * self.every
                while not self._stop.wait(wait):
                    wait = random.uniform(0.5, 1.5) * self.every
                    cursor.execute(
                        """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
                             FROM pg_stat_activity
                            WHERE datname = current_database() AND pid <> pg_backend_pid()
                              AND NOT (pid = ANY(%s)) AND backend_type = 'client backend'""",
                        [list(self.spare)],
                    )
                    self.killed += cursor.fetchone()[0]
        finally:
            killer.close()
