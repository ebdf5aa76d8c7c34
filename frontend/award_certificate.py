"""An award's certificate as an A4 PDF (issue 18): the rider's name, the award, the month, the
subdistrict's trade union and the day of the decision, in Chinese and English. Plain values
in, bytes out: no queries. Text in WenQuanYi Micro Hei (``frontend.reports.fonts``), embedded
as a subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from io import BytesIO

from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from frontend.reports.fonts import font_register

PAGE = landscape(A4)


@dataclass(frozen=True)
class Certificate:
    rider_name: str
    award_name: str
    month: date
    union_name: str  # the subdistrict's trade union, e.g. 南苑街道总工会
    decided_on: date


def certificate_pdf(certificate: Certificate) -> bytes:
    """The certificate's PDF: a framed landscape page, text centred."""
    font = font_register()
    buffer = BytesIO()
    page = canvas.Canvas(buffer, pagesize=PAGE)
    page.setTitle(f"{certificate.award_name} · {certificate.rider_name}")
    width, height = PAGE
    page.setStrokeColor(colors.HexColor("#b7791f"))
    page.setLineWidth(3)
    page.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    page.setLineWidth(1)
    page.rect(16 * mm, 16 * mm, width - 32 * mm, height - 32 * mm)
    lines = [
        (30, _("Certificate of honour"), 160),
        (40, certificate.rider_name, 125),
        (16, _("is named %(award)s for %(month)s") % {
            "award": certificate.award_name,
            "month": f"{certificate.month.year:04d}-{certificate.month.month:02d}"}, 105),
        (13, _("in recognition of reports and confirmations that kept the streets safe and "
               "tidy."), 93),
        (15, certificate.union_name, 50),
        (12, certificate.decided_on.isoformat(), 40),
    ]
    page.setFillColor(colors.HexColor("#1a202c"))
    for size, text, y in lines:
        page.setFont(font, size)
        page.drawCentredString(width / 2, y * mm, text)
    page.showPage()
    page.save()
    return buffer.getvalue()
