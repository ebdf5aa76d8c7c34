"""Import grids, stations or cases from a GeoJSON, Shapefile, GeoPackage or KML file:
``manage.py geography_import FILE [--dry-run] [--layer grids|stations|cases] [--gcj02]``.

Every problem is listed, one a line naming its feature, and nothing is written; the exit
status is then 1. ``--dry-run`` checks everything and writes nothing either way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from civicmap.coords import CoordSystem
from civicmap.errors import InvalidInput
from frontend.geography import IMPORT_LAYERS, geofile_import

PHASES = {"read": "reading", "check": "checking", "apply": "writing"}


class _Bars:
    """One tqdm bar a phase on stderr (none with -v 0)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, tqdm] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        bar = self.bars.get(phase)
        if bar is None:
            bar = self.bars[phase] = tqdm(total=total, desc=PHASES.get(phase, phase),
                                          unit=" features", file=sys.stderr, leave=True)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


class Command(BaseCommand):
    help = ("Import community and unit grids, stations or cases from a GeoJSON, Shapefile, "
            "GeoPackage or KML file (WGS 84, CGCS2000, or GCJ-02 shifted back); every problem "
            "is listed and nothing is written unless the whole file is right.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true",
                            help="check everything, list the problems, write nothing")
        parser.add_argument("--layer", choices=IMPORT_LAYERS,
                            help="default: cases for points with a category, stations for "
                                 "other points, grids otherwise")
        parser.add_argument("--gcj02", action="store_true",
                            help="the file's coordinates are GCJ-02 (from a Chinese web map)")

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        bars = _Bars(enabled=options["verbosity"] > 0)
        try:
            summary = geofile_import(
                path=path, layer=options["layer"], dry_run=options["dry_run"],
                coord_system=CoordSystem.GCJ02 if options["gcj02"] else None, progress=bars,
            )
        except InvalidInput as refused:
            bars.close()
            for error in refused.errors:
                self.stderr.write(f"{error.field}: {error.message}")
            raise CommandError(
                f"{path.name}: {len(refused.errors)} problem(s); nothing was written."
            ) from None
        bars.close()
        counts = ", ".join(f"{name} {number}" for name, number in summary.counts.items())
        shifted = " (shifted back from GCJ-02)" if summary.gcj02 else ""
        verb = "checked, nothing written (dry run)" if not summary.applied else "imported"
        self.stdout.write(f"{path.name}: {summary.format}, {summary.crs}{shifted}; "
                          f"{summary.layer} {verb}: {counts}.")
