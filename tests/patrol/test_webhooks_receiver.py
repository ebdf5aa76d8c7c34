"""A real local webhook receiver, a real Celery worker (and beat) on the spare broker, and the
tests of the receiver's own signature check.

The other webhook and notification tests import from here:

* ``Receiver``: an HTTP server on 127.0.0.1 that checks every request as a deployment's relay
  would (HMAC-SHA256 over ``timestamp.body`` with the shared secret, a timestamp within five
  minutes), records it, and drops repeats by ``X-Civicmap-Delivery``. It can be down (its port
  closed: connection refused), answer 503, or stall a request until the test lets it go.
* ``celery_process``: a worker or beat subprocess reading the test database, its broker the
  spare Redis database (``TEST_SPARE_BROKER_URL``, 3 by default, the xdist worker's own in a
  parallel run; the suite's own workers use the broker's), with the webhook settings passed in its
  environment and, for workers, the Redis visibility timeout the test chooses.
The ``spare_broker`` fixture (tests/conftest.py) points this process's Celery app at the same
database, so the tasks it queues reach that worker and no other. Modules using these define
their receiver fixture from ``receiver_running``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from patrol.webhooks import (
    HEADER_DELIVERY,
    HEADER_EVENT,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    webhook_signature,
)
from tests.issues.faults import SPARE_BROKER_URL, database_url

SECRET = "test-webhook-secret-h13"
TIMESTAMP_TOLERANCE_S = 300


# --- the receiver ------------------------------------------------------------------------------


@dataclass
class Received:
    delivery_id: str
    event: str
    timestamp: str
    signature: str
    body: bytes
    signature_ok: bool
    fresh: bool
    answered: int | None = None

    def json(self) -> dict:
        return json.loads(self.body.decode("utf-8"))


def _free_port_below_ephemeral() -> int:
    """A free port below the kernel's ephemeral range: while the receiver is down, no outgoing
    connection of any process (to Redis, PostgreSQL …) can take it as its source port and make
    the receiver's restart fail with "address in use"."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    chooser = random.Random()
    for _attempt in range(100):
        port = chooser.randrange(20000, max(20001, low - 1))
        try:
            probe = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
        except OSError:
            continue
        probe.server_close()
        return port
    raise RuntimeError("no free port below the ephemeral range")


@dataclass
class Receiver:
    """A webhook endpoint of a deployment's relay, checked the way the relay would check it."""

    secret: str = SECRET
    port: int = 0
    mode: str = "ok"  # ok | error (503) | stall (hold the next request until released)
    requests: list[Received] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)  # delivery ids acted on, repeats dropped
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.port:  # the receiver starts down, on a port kept for it
            self.port = _free_port_below_ephemeral()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/civicmap"

    @property
    def up(self) -> bool:
        return self._server is not None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                receiver._handle(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        timestamp = handler.headers.get(HEADER_TIMESTAMP, "")
        signature = handler.headers.get(HEADER_SIGNATURE, "")
        expected = "sha256=" + hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body,
                                        hashlib.sha256).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= TIMESTAMP_TOLERANCE_S
        record = Received(
            delivery_id=handler.headers.get(HEADER_DELIVERY, ""),
            event=handler.headers.get(HEADER_EVENT, ""), timestamp=timestamp,
            signature=signature, body=body, fresh=fresh,
            signature_ok=hmac.compare_digest(expected, signature),
        )
        with self._lock:
            self.requests.append(record)
            mode = self.mode
            if mode == "stall":
                self.mode = "ok"  # only the first request stalls
        if mode == "stall":
            self.stalled.set()
            self.release.wait(60)
        if not (record.signature_ok and record.fresh):
            status = 401
        elif mode == "error":
            status = 503
        else:
            status = 200
            with self._lock:
                if record.delivery_id not in self.processed:
                    self.processed.append(record.delivery_id)
        record.answered = status
        try:
            handler.send_response(status)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        except OSError:  # the sender is gone (a killed worker)
            record.answered = None

    def ids(self) -> list[str]:
        with self._lock:
            return [r.delivery_id for r in self.requests]


@contextmanager
def receiver_running() -> Iterator[Receiver]:
    """A receiver (down until started) that is stopped afterwards, whatever happened."""
    made = Receiver()
    try:
        yield made
    finally:
        made.release.set()
        made.stop()


@pytest.fixture
def receiver():
    with receiver_running() as made:
        yield made


# --- Celery on the spare broker -----------------------------------------------------------------


# Runs in the subprocess: Django's test settings, then this test's broker and transport options
# (visibility timeout, and a restore sweep every second instead of every 100 s), then Celery.
BOOTSTRAP = """
import json, os, sys
import django
django.setup()
from django.conf import settings
if os.environ.get("H13_MEDIA_ROOT"):
    settings.MEDIA_ROOT = os.environ["H13_MEDIA_ROOT"]
from civicmap.celery import app
app.conf.broker_url = os.environ["TEST_CELERY_BROKER_URL"]
app.conf.broker_transport_options = json.loads(os.environ["H13_TRANSPORT_OPTIONS"])
app.start(sys.argv[1:])
"""


@dataclass
class CeleryProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: a crash, no warm shutdown, no acknowledgement."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def celery_process(*, kind: str, log_path: Path, receiver_url: str, settings_env: dict | None
                   = None, visibility_timeout_s: int = 3600,
                   media_root: Path | None = None) -> CeleryProcess:
    """Start ``celery worker`` or ``celery beat`` on the spare broker and the test database;
    for a worker, wait until it is ready."""
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "civicmap.settings.test",
        "DATABASE_URL": database_url(),
        "TEST_CELERY_BROKER_URL": SPARE_BROKER_URL,
        "H13_TRANSPORT_OPTIONS": json.dumps({
            "visibility_timeout": visibility_timeout_s, "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }),
        "WEBHOOK_URL": receiver_url,
        "WEBHOOK_SECRET": SECRET,
        **(settings_env or {}),
    }
    if media_root is not None:
        env["H13_MEDIA_ROOT"] = str(media_root)
    if kind == "worker":
        args = ["worker", "--pool", "solo", "--loglevel", "info", "--without-mingle",
                "--without-gossip", "--without-heartbeat", "--prefetch-multiplier", "1",
                "--hostname", f"h13-{time.monotonic_ns()}@localhost"]
    else:
        args = ["beat", "--loglevel", "info",
                "--schedule", str(log_path.with_suffix(".schedule"))]
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen([sys.executable, "-c", BOOTSTRAP, *args],
                               cwd=settings.BASE_DIR, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    started = CeleryProcess(process=process, log_path=log_path)
    ready = b"ready." if kind == "worker" else b"beat: Starting..."
    deadline = time.monotonic() + 60
    while ready not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            started.stop()
            raise RuntimeError(f"Celery {kind} did not start:\n{started.log()}")
        time.sleep(0.1)
    return started


def wait_until(check, *, timeout_s: float = 30.0, every_s: float = 0.2, what: str = "",
               logs: tuple[CeleryProcess, ...] = ()) -> None:
    """Poll ``check`` until it holds; on time-out, fail with the tail of each process's log."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- {p.log_path.name} ---\n{p.log()[-4000:]}" for p in logs)
            raise AssertionError(f"timed out waiting for {what or check}{tails}")
        time.sleep(every_s)


# --- the receiver's check is a real check ------------------------------------------------------


def test_the_signature_is_hmac_sha256_over_the_timestamp_and_the_raw_body():
    body = '{"message":"案件 #7 已处置"}'.encode()
    # Reference: printf '1767225600.%s' "$body" | openssl dgst -sha256 -hmac "$secret"
    expected = hmac.new(SECRET.encode(), b"1767225600." + body, hashlib.sha256).hexdigest()
    assert webhook_signature(secret=SECRET, timestamp=1767225600, body=body) == \
        f"sha256={expected}"
    assert webhook_signature(secret=SECRET, timestamp="1767225601", body=body) != \
        f"sha256={expected}"


def test_the_receiver_refuses_a_forged_stale_or_altered_request(receiver):
    receiver.start()
    body = b'{"delivery_id":"x"}'
    now = str(int(time.time()))

    def post(payload: bytes, timestamp: str, secret: str = SECRET) -> int:
        return requests.post(receiver.url, data=payload, timeout=5, headers={
            HEADER_DELIVERY: "d-1", HEADER_TIMESTAMP: timestamp,
            HEADER_SIGNATURE: webhook_signature(secret=secret, timestamp=timestamp, body=body),
        }).status_code

    assert post(body, now) == 200
    assert post(body + b" ", now) == 401  # body altered after signing
    assert post(body, now, secret="guessed") == 401  # not signed with the shared secret
    stale = str(int(time.time()) - 3600)
    assert post(body, stale) == 401  # an old request replayed
    assert receiver.processed == ["d-1"]
