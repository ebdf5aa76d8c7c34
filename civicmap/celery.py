"""The Celery app: photo processing, deadline scans and notifications run here, on Redis."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicmap.settings.base")

app = Celery("civicmap")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Every task is in an installed app's tasks.py (<app>/tasks.py), so this finds them all.
app.autodiscover_tasks()
