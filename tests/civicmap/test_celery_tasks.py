"""Celery tasks live only in each app's tasks.py, a worker finds every one of them without a
list of modules, and every name that beat or a service queues is a registered task."""

import json
import os
import subprocess
import sys

from django.conf import settings

from issues.open311.services import OPEN311_MEDIA_TASK
from issues.services.photos import PHOTO_RENDITIONS_TASK
from patrol.webhooks import WEBHOOK_DELIVER_TASK

# A fresh process set up as a worker is (Django, then Celery's default modules): the test
# process has imported far more than a worker would, which could hide a task never discovered.
WORKER_TASKS = (
    "import json, django; django.setup()\n"
    "from civicmap.celery import app\n"
    "app.loader.import_default_modules()\n"
    "print(json.dumps({name: task.__module__ for name, task in app.tasks.items()\n"
    "                  if not name.startswith('celery.')}))\n"
)


def _worker_tasks() -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "civicmap.settings.test"}
    done = subprocess.run([sys.executable, "-c", WORKER_TASKS], cwd=settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_task_is_in_an_apps_tasks_module_and_every_queued_name_is_registered():
    tasks = _worker_tasks()
    assert {module for module in tasks.values()} == {
        "issues.tasks", "patrol.tasks", "frontend.tasks"}
    assert all(name.startswith(module + ".") for name, module in tasks.items())
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    queued = {PHOTO_RENDITIONS_TASK, OPEN311_MEDIA_TASK, WEBHOOK_DELIVER_TASK}
    assert beat | queued <= set(tasks), (beat | queued) - set(tasks)
    assert not getattr(settings, "CELERY_IMPORTS", None)
