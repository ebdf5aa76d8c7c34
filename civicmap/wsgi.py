"""WSGI entry point for gunicorn."""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicmap.settings.base")
application = get_wsgi_application()
# The URLconf, and through it every view module, imported now rather than by the first request,
# so that what they load (a third of the heap: the maps' folium and jinja2 templates, the API's
# serializers) is frozen below with the rest (docs/DECISIONS.md D-029, D-078).
import_module(settings.ROOT_URLCONF)
# Everything loaded so far (Django, the apps, their modules) lives as long as the worker: keep it
# out of the garbage collector's full collections. A governance map request decodes ~100,000
# small objects from its snapshot, which set off full collections that rescanned the whole
# loaded heap each time: 100-190 ms pauses, a sixth of the requests (docs/DECISIONS.md).
gc.freeze()
