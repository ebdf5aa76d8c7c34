"""Nanyuan CivicMap: project settings, URLs, the Celery app and the shared geography."""

from civicmap.celery import app as celery_app

__all__ = ["celery_app"]
