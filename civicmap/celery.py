"""The Celery app: photo processing, deadline scans and notifications run here, on Redis."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicmap.settings.base")

app = Celery("civicmap")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Tasks outside an app's tasks.py module.
app.autodiscover_tasks(["issues.open311"])
