"""Benchmark 3: memory stays flat over 10,000 intakes, in the web process and in a Celery worker.

Part 1 runs the intake service (``report_create``, the app channel, each report in its own
transaction with one small JPEG stored to a temp MEDIA_ROOT) 10,000 times in this one long-lived
process, as 200 bench riders, at points and categories drawn like the demo history. The process
RSS (VmRSS of /proc/self/status) is sampled every 500 intakes. Reported: the RSS at 1,000 and
at 10,000, the least-squares slope in KB per 1,000 intakes after warm-up (from 1,000 on) and the
growth over the last 9,000 intakes; flat means under 5 MB of growth.

Part 2 then starts a real Celery worker (``celery -A civicmap worker --pool solo``, broker
Redis db 13, the bench database, the same temp MEDIA_ROOT) on the photo-rendition tasks those
intakes queued, and reads its RSS (/proc/<pid>/status; with the solo pool the tasks run in that
process) every 500 photos it finishes, until it has done ``--worker-tasks`` (at least 2,000) or
``--worker-timeout`` seconds have passed. (Run side by side with the intakes, the two shared the
2 cores with other users and the intakes slowed from about 17/s to 6.5/s: too slow for the time
budget, so they run one after the other.)

Afterwards the bench database is dropped for a fresh copy of its template (the 1,000,000
seeded reports, nothing the run wrote), Redis db 13 is flushed and the temp MEDIA_ROOT deleted.

Run alone: .venv/bin/python bench/bench_worker_memory.py [--intakes 10000] [--worker-tasks 3000]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NAME = "worker_memory"
RIDERS = 200
SAMPLE_EVERY = 500
WARMUP = 1000  # intakes (or tasks) before the slope is measured
FLAT_LIMIT_KB = 5 * 1024  # growth over the last 9,000 intakes that still counts as flat
PHOTO_BYTES = 15_000
SAMPLER_SEED = 20260303


def _slope_kb_per_1000(samples: list[tuple[int, int]], start: int) -> float:
    """Least-squares slope of RSS (KB) over count, in KB per 1,000, for samples from ``start``."""
    points = [(n / 1000, kb) for n, kb in samples if n >= start]
    if len(points) < 2:
        return float("nan")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den


def _at(samples: list[tuple[int, int]], count: int) -> int | None:
    return next((kb for n, kb in samples if n == count), None)


def _intakes(count: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from issues.models import Category
    from issues.services.intake import APP_CHANNEL, ReportInput, report_create

    common.bench_riders_ensure(RIDERS)
    users = list(get_user_model().objects.filter(
        username__startswith=common.BENCH_RIDER_PREFIX).order_by("username")[:RIDERS])
    codes = dict(Category.objects.values_list("pk", "code"))
    drawn, _bounds = common.history_places(count=count, seed=SAMPLER_SEED)
    places = [(round(lon, 7), round(lat, 7), codes[category]) for lon, lat, category in drawn]
    photos = [common.jpeg_photo(target_bytes=PHOTO_BYTES, seed=100 + i, size=(640, 480))
              for i in range(4)]
    samples = [(0, common.rss_kb())]
    times = [(0, 0.0)]
    started = time.perf_counter()
    for number in range(1, count + 1):
        lon, lat, code = places[number - 1]
        data = ReportInput(
            category_code=code, description=f"memory benchmark {number}", lon=lon, lat=lat,
            accuracy_m=8.0, client_uuid=uuid.uuid4(),
            photos=[SimpleUploadedFile("photo.jpg", photos[number % len(photos)],
                                       content_type="image/jpeg")],
        )
        report_create(channel=APP_CHANNEL, data=data, reporter=users[number % len(users)])
        if number % SAMPLE_EVERY == 0:
            samples.append((number, common.rss_kb()))
            times.append((number, time.perf_counter() - started))
            if number % 2000 == 0:
                common.log(f"  {number:,} intakes, RSS {samples[-1][1] / 1024:.1f} MB, "
                           f"{number / times[-1][1]:.0f} intakes/s")
    elapsed = time.perf_counter() - started
    rate_first = SAMPLE_EVERY / times[1][1]
    rate_last = SAMPLE_EVERY / (times[-1][1] - times[-2][1])
    return {"samples": samples, "elapsed_s": round(elapsed, 1),
            "intakes_per_s": round(count / elapsed, 1),
            "intakes_per_s_first_500": round(rate_first, 1),
            "intakes_per_s_last_500": round(rate_last, 1),
            "photo_bytes": [len(p) for p in photos]}


class _Worker:
    """A real Celery worker (``--pool solo``: tasks run in the worker process itself, whose RSS
    is read). A thread counts the photos it has finished (its own database connection) and reads
    the worker's RSS each time another 500 are done."""

    def __init__(self, media_root: str, mark_photo: int, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(common.VENV_BIN / "celery"), "-A", "civicmap", "worker", "--pool", "solo",
             "-n", "civicmap-bench@%h", "-l", "warning"],
            cwd=common.ROOT, env=common.bench_env(MEDIA_ROOT=media_root),
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.mark_photo = mark_photo
        self.samples: list[tuple[int, int]] = []
        self.times: list[tuple[int, float]] = []
        self.done = 0
        self.failed = 0
        self.rss_end_kb: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self.started = time.perf_counter()
        self._thread.start()

    def _watch(self) -> None:
        conn = common.pg_connect()
        next_sample = 0
        try:
            with conn.cursor() as cur:
                while not self._stop.is_set() and self.process.poll() is None:
                    cur.execute("""SELECT count(*) FILTER (WHERE status IN ('ready', 'failed')),
                                          count(*) FILTER (WHERE status = 'failed')
                                   FROM issues_reportphoto WHERE id > %s""", [self.mark_photo])
                    self.done, self.failed = cur.fetchone()
                    while self.done >= next_sample:
                        self.samples.append((next_sample, common.rss_kb(self.process.pid)))
                        self.times.append((next_sample, time.perf_counter() - self.started))
                        next_sample += SAMPLE_EVERY
                    time.sleep(0.25)
        finally:
            conn.close()

    def wait(self, *, tasks: int, queued: int, timeout_s: float) -> None:
        """Until ``tasks`` (or every queued one) are done, or ``timeout_s`` from now."""
        deadline = time.perf_counter() + timeout_s
        while self.done < min(tasks, queued):
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.process.returncode}: "
                                   f"see {self.log_path}")
            if time.perf_counter() > deadline:
                common.log(f"  worker: stopped waiting after {timeout_s:.0f} s, "
                           f"{self.done:,} tasks done")
                return
            time.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.process.poll() is None:
            self.rss_end_kb = common.rss_kb(self.process.pid)
            self.process.send_signal(signal.SIGTERM)  # warm shutdown: the current task finishes
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def summary(self) -> dict:
        times = self.times
        rate = ((times[-1][0] - times[1][0]) / (times[-1][1] - times[1][1])
                if len(times) > 2 else None)
        return {"pid_samples": self.samples, "tasks_done": self.done,
                "tasks_failed": self.failed, "elapsed_s": round(times[-1][1], 1) if times else 0,
                "tasks_per_s": round(rate, 1) if rate else None, "rss_end_kb": self.rss_end_kb}


def run(intakes: int = 10_000, worker_tasks: int = 3000, worker_timeout_s: float = 300) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="civicmap-bench-memory-"))
    media_root = tmp / "media"
    media_root.mkdir()
    common.django_setup(MEDIA_ROOT=str(media_root), REPORTS_PER_HOUR_PER_RIDER=str(10**9))
    from django.conf import settings
    from django.db.models import Max

    from issues.models import Report, ReportPhoto

    assert Path(settings.MEDIA_ROOT) == media_root
    stored = Report.objects.count()
    common.log(f"{NAME}: {stored:,} reports stored; {intakes:,} intakes in this process "
               f"(pid {__import__('os').getpid()})")
    photos_before = ReportPhoto.objects.aggregate(last=Max("id"))["last"] or 0
    common.redis_flush()
    celery = None
    try:
        intake = _intakes(intakes)
        first_mb, last_mb = intake["samples"][0][1] / 1024, intake["samples"][-1][1] / 1024
        common.log(f"{NAME}: {intakes:,} intakes in {intake['elapsed_s']} s; RSS "
                   f"{first_mb:.1f} -> {last_mb:.1f} MB")
        celery = _Worker(str(media_root), photos_before, tmp / "worker.log")
        common.log(f"{NAME}: Celery worker pid {celery.process.pid} on the {intakes:,} queued "
                   f"photo tasks (until {worker_tasks:,} are done or {worker_timeout_s:.0f} s)")
        celery.wait(tasks=worker_tasks, queued=intakes, timeout_s=worker_timeout_s)
        celery.stop()
        worker = celery.summary()
        common.log(f"{NAME}: worker did {worker['tasks_done']:,} tasks "
                   f"({worker['tasks_per_s']} /s), failed {worker['tasks_failed']}")
    finally:
        if celery is not None:
            celery.stop()
        common.redis_flush()
        common.rmtree_quiet(tmp)
    samples = intake["samples"]
    at_1000, at_end = _at(samples, WARMUP), _at(samples, intakes)
    growth = at_end - at_1000 if at_1000 is not None and at_end is not None else None
    wsamples = worker["pid_samples"]
    w_first = _at(wsamples, WARMUP)
    w_last_n, w_last = wsamples[-1]
    w_growth = w_last - w_first if w_first is not None and w_last_n > WARMUP else None
    result = {
        "measured_at": common.now_iso(), "reports_stored": stored, "intakes": intakes,
        "sample_every": SAMPLE_EVERY,
        "intake_process": {
            "rss_kb_start": samples[0][1], "rss_kb_at_1000": at_1000,
            "rss_kb_at_end": at_end,
            "growth_kb_last_9000": growth,
            "slope_kb_per_1000": round(_slope_kb_per_1000(samples, WARMUP), 1),
            "slope_kb_per_1000_second_half": round(_slope_kb_per_1000(samples, intakes // 2), 1),
            "flat": growth is not None and growth < FLAT_LIMIT_KB,
            "samples_kb": samples, "elapsed_s": intake["elapsed_s"],
            "intakes_per_s": intake["intakes_per_s"],
            "intakes_per_s_first_500": intake["intakes_per_s_first_500"],
            "intakes_per_s_last_500": intake["intakes_per_s_last_500"],
            "photo_bytes": intake["photo_bytes"],
        },
        "celery_worker": {
            "tasks_done": worker["tasks_done"], "tasks_failed": worker["tasks_failed"],
            "tasks_queued": intakes, "tasks_per_s": worker["tasks_per_s"],
            "rss_kb_start": wsamples[0][1], "rss_kb_at_1000": w_first,
            "rss_kb_last_sample": w_last, "last_sample_tasks": w_last_n,
            "growth_kb_after_1000": w_growth,
            "slope_kb_per_1000": round(_slope_kb_per_1000(wsamples, WARMUP), 1),
            "slope_kb_per_1000_second_half": round(
                _slope_kb_per_1000(wsamples, w_last_n // 2), 1),
            "flat": w_growth is not None and w_growth < FLAT_LIMIT_KB,
            "samples_kb": wsamples, "elapsed_s": worker["elapsed_s"],
        },
        "flat_limit_kb": FLAT_LIMIT_KB,
    }
    common.result_write(NAME, result)
    p = result["intake_process"]
    w = result["celery_worker"]
    def verdict(flat: bool) -> str:
        return "flat" if flat else "GROWS"

    common.log(f"{NAME}: intake RSS {p['rss_kb_at_1000']} KB @1000 -> {p['rss_kb_at_end']} KB "
               f"@{intakes}, slope {p['slope_kb_per_1000']} KB/1000 ({verdict(p['flat'])}); "
               f"worker {w['rss_kb_at_1000']} KB @1000 -> {w_last} KB @{w_last_n}, slope "
               f"{w['slope_kb_per_1000']} KB/1000 ({verdict(w['flat'])})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intakes", type=int, default=10_000)
    parser.add_argument("--worker-tasks", type=int, default=3000,
                        help="photo tasks the worker must finish (at least 2,000)")
    parser.add_argument("--worker-timeout", type=float, default=300,
                        help="seconds the worker gets to do them")
    args = parser.parse_args()
    if args.worker_tasks < 2000:
        parser.error("--worker-tasks must be at least 2,000")
    with common.bench_db_writes():
        run(intakes=args.intakes, worker_tasks=args.worker_tasks,
            worker_timeout_s=args.worker_timeout)


if __name__ == "__main__":
    main()
