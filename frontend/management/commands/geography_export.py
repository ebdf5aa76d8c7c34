"""Export grids, stations or cases: ``manage.py geography_export --layer grids|stations|cases
--format geojson|gpkg|shp|csv [--subdistrict CODE] OUT``.

Files are WGS 84 and import back with ``geography_import`` (grids, stations; cases pass its
dry run, each with its category and its ``created`` time as reported); a CSV carries
WKT (grids) or X and Y columns (stations, cases), UTF-8 with a byte-order mark.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from civicmap.geofiles import EXPORT_FORMATS, GeofileWriteError
from civicmap.selectors import subdistrict_get
from frontend.geography import EXPORT_LAYERS, geofile_export


class Command(BaseCommand):
    help = "Export grids, stations or cases to GeoJSON, GeoPackage, Shapefile or CSV (WGS 84)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("out", type=Path, help="the file to write (must not exist)")
        parser.add_argument("--layer", choices=EXPORT_LAYERS, required=True)
        parser.add_argument("--format", choices=sorted(EXPORT_FORMATS), required=True)
        parser.add_argument("--subdistrict", help="a subdistrict's 9-digit code (default: all)")

    def handle(self, *args, **options) -> None:
        out: Path = options["out"]
        extension = EXPORT_FORMATS[options["format"]][1]
        if out.suffix.lower() != extension:
            raise CommandError(f"{out}: a {options['format']} file's name ends in {extension}.")
        if out.exists():
            raise CommandError(f"{out} exists; choose a new name.")
        code = options["subdistrict"]
        if code and subdistrict_get(code=code) is None:
            raise CommandError(f"--subdistrict: no subdistrict has the code {code!r}.")
        try:
            count = geofile_export(layer=options["layer"], file_format=options["format"],
                                   path=out, subdistrict_code=code)
        except GeofileWriteError as failed:
            raise CommandError(f"ogr2ogr: {failed}") from None
        self.stdout.write(f"{out}: {count} {options['layer']} features written.")
