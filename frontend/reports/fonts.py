"""The PDF's Chinese font: WenQuanYi Micro Hei from the Debian package fonts-wqy-microhei
(installed by scripts/setup.sh), registered with reportlab once per process. Embedded in each
PDF as a subset of the glyphs used, so a reader needs no font of its own."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME = "WenQuanYiMicroHei"
DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


@cache
def font_register() -> str:
    """Register the CJK font (the first face of the collection) and answer its name; raises
    FileNotFoundError naming the path when the package is missing."""
    path = Path(getattr(settings, "REPORT_FONT_PATH", DEFAULT_FONT_PATH))
    if not path.exists():
        raise FileNotFoundError(f"{path}: install fonts-wqy-microhei (scripts/setup.sh)")
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
    return FONT_NAME
