"""Every script, stylesheet, font and icon of the maps comes from our origin, through
staticfiles, from npm packages pinned in frontend/package-lock.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import override_settings
from whitenoise.storage import CompressedManifestStaticFilesStorage

from civicmap.admin_widgets import OfflineGISModelAdmin, OfflineOSMWidget
from frontend.maps import assets

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
ALL_ASSETS = [
    *assets.MAP_JS, *assets.MAP_CSS, *assets.HEATMAP_JS, *assets.HEATMAP_WITH_TIME_JS,
    *assets.HEATMAP_WITH_TIME_CSS, *assets.MARKER_CLUSTER_JS, *assets.MARKER_CLUSTER_CSS,
]
WIDGET_ASSETS = ["vendor/ol/ol.js", "vendor/ol/ol.css", "gis/js/OLMapWidget.js",
                 "gis/css/ol3.css"]


@pytest.mark.parametrize("path", [path for _name, path in ALL_ASSETS] + WIDGET_ASSETS)
def test_asset_is_a_static_file_of_ours(path):
    assert finders.find(path), f"{path} not found by the staticfiles finders (npm ci?)"


def test_package_lock_pins_every_dependency():
    package = json.loads((FRONTEND / "package.json").read_text())
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    for name in ["leaflet", "leaflet.heat", "leaflet.markercluster", "leaflet.awesome-markers",
                 "leaflet-timedimension", "iso8601-js-period", "jquery", "bootstrap",
                 "@fortawesome/fontawesome-free", "ol"]:
        assert name in package["dependencies"]
        assert lock["packages"][f"node_modules/{name}"]["version"]
    assert lock["packages"]["node_modules/leaflet"]["version"] == "1.9.4"


def test_stylesheets_reference_only_files_we_serve():
    """url(...) in our vendored CSS resolves to a static file, never to another host."""
    for _name, path in [*assets.MAP_CSS, *assets.HEATMAP_WITH_TIME_CSS, *assets.MARKER_CLUSTER_CSS,
                        ("ol", "vendor/ol/ol.css")]:
        text = Path(finders.find(path)).read_text(encoding="utf-8")
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):
            if url.startswith("data:"):
                continue
            assert "//" not in url, f"{path} loads {url}"
            target = (Path(path).parent / url.split("?")[0].split("#")[0]).as_posix()
            target = _normalise(target)
            assert finders.find(target), f"{path}: {url} -> {target} is not served"


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def test_our_time_control_css_is_the_package_css_without_the_cdn_font():
    original = (FRONTEND / "node_modules/leaflet-timedimension/dist/"
                "leaflet.timedimension.control.css").read_text(encoding="utf-8")
    ours = (FRONTEND / "static/frontend/leaflet.timedimension.control.css").read_text(
        encoding="utf-8")
    assert "netdna" in original and "//" not in re.sub(r"/\*.*?\*/", "", ours, flags=re.S)
    expected = re.sub(r"@font-face\s*\{[^}]*\}\s*", "", original, count=1).replace(
        'font-family: "Glyphicons Halflings";',
        'font-family: "Font Awesome 6 Free";\n    font-weight: 900;')
    for glyph, awesome in {"e072": "f04b", "e073": "f04c", "e031": "f021", "e141": "f625",
                           "e074": "f04d", "e075": "f051", "e071": "f048",
                           "e030": "f363"}.items():
        expected = expected.replace(f'"\\{glyph}"', f'"\\{awesome}"')
    assert ours.split("*/\n", 1)[1] == expected


def test_admin_widget_loads_openlayers_from_our_static_files():
    media = str(OfflineOSMWidget().media)
    assert "/static/vendor/ol/ol.js" in media and "/static/vendor/ol/ol.css" in media
    assert "//" not in media.replace('="/static', "")  # no cdn.jsdelivr.net
    assert OfflineGISModelAdmin.gis_widget is OfflineOSMWidget


class LeafletStylesheetCompressed(CompressedManifestStaticFilesStorage):
    """Production's static storage, compressing Leaflet's stylesheet only (its copy and its
    hashed copy): brotli at its best, about 0.5 MB/s here, took half a minute of the suite's
    CPU over every stylesheet."""

    def compress_files(self, paths):
        return super().compress_files(
            [path for path in paths if re.fullmatch(r"vendor/leaflet/leaflet(\.\w+)?\.css", path)])


def test_collectstatic_with_the_production_storage(tmp_path):
    """The manifest storage rewrites url() and sourceMappingURL references: every one of the
    vendored files must resolve, or collectstatic fails in production. This is the production
    storage, hashing every file; it compresses one stylesheet, where production compresses
    all but the source maps (set-up's collectstatic does that, and brotli at its best would
    take a minute here)."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": f"{__name__}.LeafletStylesheetCompressed"},
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for _name, path in ALL_ASSETS:
        assert path in manifest
    assert "vendor/ol/ol.css" in manifest
    hashed_css = tmp_path / manifest["vendor/leaflet/leaflet.css"]
    assert Path(f"{hashed_css}.br").is_file() and Path(f"{hashed_css}.gz").is_file()
    assert not (tmp_path / "vendor/iso8601-js-period/unittest.html").exists()


def test_production_compresses_every_static_file_but_the_source_maps():
    """What production's collectstatic compresses (``WHITENOISE_SKIP_COMPRESS_EXTENSIONS``):
    scripts, stylesheets and fonts, not the source maps only a developer's tools fetch, nor
    what is compressed already."""
    from django.conf import settings
    from whitenoise.compress import Compressor

    compressor = Compressor(extensions=settings.WHITENOISE_SKIP_COMPRESS_EXTENSIONS)
    assert [name for name in ("echarts.min.js", "leaflet.css", "ol.js.map", "icon-192.png",
                              "fonts.woff2") if compressor.should_compress(name)] == [
        "echarts.min.js", "leaflet.css"]
