"""Generated assets of the phone pages: the icon sprite and the app icons of the installed PWA.

``icons.svg`` is one SVG sprite of Font Awesome Free's solid icons (CC BY 4.0, from
frontend/node_modules), one ``<symbol id="i-NAME">`` per category icon name (the ``icon``
field of issues.Category) and per icon the pages use. One file, cached by the service worker,
instead of Font Awesome's 100 KB stylesheet and 150 KB web font.

The PNG app icons are drawn with Pillow: a white map pin on the programme's blue.

``manage.py phone_assets`` writes both into frontend/static/frontend/phone/; a test checks
that the committed sprite is what this module builds.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageDraw

PHONE_STATIC = Path(__file__).resolve().parent / "static" / "frontend" / "phone"
FA_SOLID = (Path(settings.FRONTEND_NODE_MODULES) / "@fortawesome" / "fontawesome-free" / "svgs"
            / "solid")

# Category icon name (fixtures/categories.json) -> Font Awesome solid icon.
CATEGORY_ICONS: dict[str, str] = {
    "manhole": "circle-dot", "drain": "water", "lamp": "lightbulb",
    "hydrant": "fire-extinguisher", "power-box": "bolt", "traffic-light": "traffic-light",
    "sign": "sign-hanging", "guardrail": "road-barrier", "bus-stop": "bus", "bike": "bicycle",
    "bin": "trash-can", "toilet": "toilet", "bench": "chair", "tree": "tree",
    "grass": "seedling", "gate": "archway", "trash": "trash", "bin-full": "dumpster",
    "muck": "mound", "building": "building-circle-exclamation", "clutter": "boxes-stacked",
    "flyer": "note-sticky", "billboard": "rectangle-ad", "noise": "volume-high",
    "dust": "smog", "truck": "truck", "road-collapse": "road-circle-xmark",
    "pipe": "faucet-drip", "flood": "house-flood-water", "fallen-tree": "wind",
    "fire": "fire", "car-crash": "car-burst", "gas": "fire-flame-simple", "car": "car",
    "bike-mess": "motorcycle", "stall": "store", "hawker": "basket-shopping",
    "litter": "trash-arrow-up", "lane-blocked": "ban", "elderly": "person-cane",
    "wheelchair": "wheelchair", "heart": "heart", "rider-parking": "square-parking",
    "charging": "charging-station", "gate-rider": "door-closed", "pickup": "bag-shopping",
    "rider": "mug-hot",
}

# Icons of the pages themselves, under their Font Awesome names.
UI_ICONS = (
    "camera", "image", "location-crosshairs", "location-dot", "qrcode", "list-check", "star",
    "user", "clock", "map", "route", "cloud-arrow-up", "triangle-exclamation", "lock", "xmark",
    "check", "person-digging", "circle-info", "arrows-rotate", "mug-hot", "coins",
    "paper-plane", "flag", "bell",
)

PIN_BLUE = (31, 58, 95)  # #1f3a5f, the colour of the office pages' bar
ICON_SIZES = (192, 512)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SVG = re.compile(r'<svg[^>]*viewBox="([^"]+)"[^>]*>(.*)</svg>', re.S)


def _symbol(symbol_id: str, fa_name: str) -> str:
    text = _COMMENT.sub("", (FA_SOLID / f"{fa_name}.svg").read_text(encoding="utf-8"))
    match = _SVG.search(text)
    if match is None:
        raise ValueError(f"{fa_name}.svg is not a Font Awesome SVG")
    body = match.group(2).strip()
    return f'<symbol id="i-{symbol_id}" viewBox="{match.group(1)}">{body}</symbol>'


def icon_sprite_build() -> str:
    """The sprite's text: category icons by their names, page icons by Font Awesome's."""
    symbols = [_symbol(name, fa) for name, fa in sorted(CATEGORY_ICONS.items())]
    symbols += [_symbol(name, name) for name in sorted(set(UI_ICONS) - set(CATEGORY_ICONS))]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg">'
        "<!-- Font Awesome Free 6 solid icons, https://fontawesome.com, CC BY 4.0 -->"
        + "".join(symbols) + "</svg>\n"
    )


def app_icon_png(*, size: int, maskable: bool = False) -> bytes:
    """A square PNG: white map pin on blue. ``maskable`` keeps the pin inside the central 80 %
    circle that launchers may crop to, and fills the whole square."""
    scale = 4  # drawn large, then reduced: smooth edges without an anti-aliasing option
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=PIN_BLUE)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 6, fill=PIN_BLUE)
    pin = 0.34 if maskable else 0.42  # the pin's head diameter as a share of the side
    head = big * pin
    cx, cy = big / 2, big * 0.42
    draw.ellipse((cx - head / 2, cy - head / 2, cx + head / 2, cy + head / 2), fill="white")
    tip_y = cy + head * 1.05
    draw.polygon([(cx - head * 0.42, cy + head * 0.25), (cx + head * 0.42, cy + head * 0.25),
                  (cx, tip_y)], fill="white")
    dot = head * 0.36
    draw.ellipse((cx - dot / 2, cy - dot / 2, cx + dot / 2, cy + dot / 2), fill=PIN_BLUE)
    buffer = io.BytesIO()
    # Two colours and their anti-aliased edges: a 32-colour palette is exact enough and small.
    small = image.resize((size, size), Image.Resampling.LANCZOS)
    small.quantize(colors=32, method=Image.Quantize.FASTOCTREE).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def app_icon_files() -> dict[str, bytes]:
    """File name -> PNG bytes of every app icon the manifest and the pages name."""
    files = {f"icon-{size}.png": app_icon_png(size=size) for size in ICON_SIZES}
    files["icon-maskable-512.png"] = app_icon_png(size=512, maskable=True)
    files["apple-touch-icon.png"] = app_icon_png(size=180, maskable=True)
    return files


def phone_assets_write(target: Path = PHONE_STATIC) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = [target / "icons.svg"]
    written[0].write_text(icon_sprite_build(), encoding="utf-8")
    for name, data in app_icon_files().items():
        (target / name).write_bytes(data)
        written.append(target / name)
    return written
