"""The phone pages' assets: the icon sprite is what frontend.phone_assets builds and has every
category's icon, the app icons have their sizes, the vendored QR reader is served from our
origin, and the scripts' strings are translated."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.utils import translation
from PIL import Image

from frontend.phone_assets import (
    CATEGORY_ICONS,
    PHONE_STATIC,
    UI_ICONS,
    app_icon_files,
    icon_sprite_build,
)
from frontend.phone_views import phone_strings

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "frontend" / "static" / "frontend" / "phone"
TEMPLATES = ROOT / "frontend" / "templates" / "frontend"


def test_sprite_is_current():
    """Regenerate with `manage.py phone_assets` when this fails."""
    assert (PHONE_STATIC / "icons.svg").read_text(encoding="utf-8") == icon_sprite_build()


def test_every_category_icon_and_page_icon_is_in_the_sprite():
    sprite = (STATIC / "icons.svg").read_text(encoding="utf-8")
    catalogue = json.loads((ROOT / "fixtures" / "categories.json").read_text(encoding="utf-8"))
    names = {category["icon"] for category in catalogue["categories"]}
    assert names <= set(CATEGORY_ICONS)
    for name in names | set(UI_ICONS):
        assert f'id="i-{name}"' in sprite
    # Icons the templates and scripts name.
    used = set()
    for path in [*TEMPLATES.glob("rider*.html"), *TEMPLATES.glob("team*.html"),
                 *STATIC.glob("*.js")]:
        text = path.read_text(encoding="utf-8")
        used |= {part.split('"')[0].split("'")[0] for part in text.split("#i-")[1:]
                 if not part.startswith("{")}
        used |= {part.split('"')[0] for part in text.split('icon("')[1:]}
    used.discard("")
    missing = [name for name in used if f'id="i-{name}"' not in sprite]
    assert missing == []


def test_app_icons_have_their_sizes():
    sizes = {"icon-192.png": 192, "icon-512.png": 512, "icon-maskable-512.png": 512,
             "apple-touch-icon.png": 180}
    for name, data in app_icon_files().items():
        image = Image.open(io.BytesIO(data))
        assert image.size == (sizes[name], sizes[name])
        assert (STATIC / name).is_file()


def test_qr_reader_and_leaflet_are_served_from_our_origin():
    assert finders.find("vendor/jsqr/jsQR.js")
    assert finders.find("vendor/leaflet/leaflet.js")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_script_strings_are_translated(language):
    with translation.override(language):
        strings = phone_strings()
    if language == "en":
        assert strings["sent"] == "Report sent: case %(id)s."
    else:
        untranslated = [key for key, text in strings.items()
                        if text.isascii() and any(c.isalpha() for c in text)]
        assert untranslated == []
