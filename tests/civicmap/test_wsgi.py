"""The WSGI entry point a gunicorn worker loads (civicmap/wsgi.py), in a subprocess: a worker's
fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

# Prints: objects frozen, objects left to the collector, whether the API's and the pages' views
# were imported.
PROBE = ("import gc, sys; import civicmap.wsgi; "
         "print(gc.get_freeze_count(), len(gc.get_objects()), "
         "'issues.api.views' in sys.modules, 'frontend.views' in sys.modules)")


def test_a_worker_imports_every_view_before_it_freezes_its_heap():
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=settings.BASE_DIR,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "civicmap.settings.test"},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    frozen, left, api_views, page_views = run.stdout.split()
    assert (api_views, page_views) == ("True", "True")  # not left to the first request
    # What the first requests would otherwise import (a third of the heap) is frozen too.
    assert int(frozen) > 100_000 and int(left) < 1_000
