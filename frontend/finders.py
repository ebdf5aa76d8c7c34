"""A staticfiles finder for single files of npm packages, served under our own prefix.

Whole ``dist`` folders of frontend/node_modules are in ``STATICFILES_DIRS`` with a prefix; a
few assets live at a package's root next to hundreds of files we must not publish (OpenLayers'
``ol.css`` beside its ES modules, ``iso8601.js`` beside a test page). ``FRONTEND_VENDOR_FILES``
maps each such static path to its file, and this finder serves exactly those files: to
``runserver``/``live_server`` like any static file, and to ``collectstatic``.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Warning as CheckWarning
from django.core.files.storage import FileSystemStorage


class VendorFileFinder(BaseFinder):
    """Finds the files named in ``settings.FRONTEND_VENDOR_FILES`` ({static path: file})."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.files: dict[str, Path] = {
            static_path.strip("/"): Path(source)
            for static_path, source in getattr(settings, "FRONTEND_VENDOR_FILES", {}).items()
        }

    def check(self, **kwargs) -> list:
        return [
            CheckWarning(
                f"{source} (static {static_path}) does not exist.",
                hint="Run `npm ci` in frontend/ (scripts/setup.sh does).",
                id="frontend.W001",
            )
            for static_path, source in self.files.items()
            if not source.is_file()
        ]

    def find(self, path: str, find_all: bool = False, **kwargs):
        # Django 5.2 renamed ``all`` to ``find_all``; accept the old keyword too.
        find_all = find_all or kwargs.get("all", False)
        source = self.files.get(path.replace(os.sep, "/"))
        if source is None or not source.is_file():
            return [] if find_all else None
        return [str(source)] if find_all else str(source)

    def list(self, ignore_patterns):
        for static_path, source in self.files.items():
            if not source.is_file():
                continue
            storage = FileSystemStorage(location=source.parent)
            # collectstatic writes to ``storage.prefix`` + path, like a prefixed STATICFILES_DIRS.
            storage.prefix = str(Path(static_path).parent)
            yield source.name, storage
