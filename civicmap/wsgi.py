"""WSGI entry point for gunicorn."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicmap.settings.base")
application = get_wsgi_application()
# Everything loaded so far (Django, the apps, their modules) lives as long as the worker: keep it
# out of the garbage collector's full collections. A governance map request decodes ~100,000
# small objects from its snapshot, which set off full collections that rescanned the whole
# loaded heap each time: 100-190 ms pauses, a sixth of the requests (docs/DECISIONS.md).
gc.freeze()
