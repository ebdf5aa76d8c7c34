"""gunicorn.conf.py, which `make run` and the benchmarks start gunicorn with (D-090)."""

from __future__ import annotations

import os
import runpy

import pytest
from django.conf import settings

CONF = str(settings.BASE_DIR / "gunicorn.conf.py")


def test_one_worker_more_than_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.delenv("WEB_WORKERS", raising=False)

    assert runpy.run_path(CONF)["workers"] == len(os.sched_getaffinity(0)) + 1


@pytest.mark.parametrize(("value", "workers"), [("5", 5), ("", len(os.sched_getaffinity(0)) + 1)])
def test_web_workers_sets_the_count(monkeypatch, value, workers):
    monkeypatch.setenv("WEB_WORKERS", value)

    assert runpy.run_path(CONF)["workers"] == workers


def test_make_run_starts_gunicorn_with_it():
    run_script = (settings.BASE_DIR / "scripts" / "run.sh").read_text()

    assert '--config "$ROOT/gunicorn.conf.py"' in run_script
    assert "--workers" not in run_script
