"""Make the monthly governance report now, in this process (what the page's button and beat on
the 1st hand to a Celery worker): ``manage.py governance_report --month 2026-11
[--subdistrict 110106xxx] [--output DIR]``."""

from __future__ import annotations

from pathlib import Path

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from civicmap.errors import InvalidInput
from civicmap.models import Subdistrict
from civicmap.selectors import subdistrict_get
from frontend.models import GovernanceReport, ReportStatus
from frontend.reports.months import month_parse
from frontend.reports.services import governance_report_make, governance_report_request

MSG_SUBDISTRICT_UNKNOWN = "--subdistrict: no subdistrict has the code {code!r}."


class Command(BaseCommand):
    help = ("Make the governance report (XLSX and PDF) of a month that has ended, for one "
            "subdistrict or each, store it for download on /office/reports/ and, with --output, "
            "copy the files to a folder.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--month", required=True, help="YYYY-MM, a month that has ended")
        parser.add_argument("--subdistrict", help="a subdistrict's 9-digit code (default: each)")
        parser.add_argument("--output", type=Path, help="a folder to copy the files into")

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        try:
            month = month_parse(text=options["month"], now=now, field="--month")
        except InvalidInput as refused:
            raise CommandError(f"--month: {refused.errors[0].message}") from None
        code = options["subdistrict"]
        if code:
            subdistrict = subdistrict_get(code=code)
            if subdistrict is None:
                raise CommandError(MSG_SUBDISTRICT_UNKNOWN.format(code=code))
            subdistricts = [subdistrict]
        else:
            subdistricts = list(Subdistrict.objects.order_by("code"))
        failed = []
        for subdistrict in subdistricts:
            report = governance_report_request(subdistrict=subdistrict, month=month, now=now,
                                               queue=False)
            outcome = governance_report_make(report_id=report.pk)
            report = GovernanceReport.objects.get(pk=report.pk)
            if report.status != ReportStatus.DONE:
                failed.append(f"{subdistrict.code}: {report.error or outcome}")
                continue
            self.stdout.write(f"{subdistrict.code} {month:%Y-%m}: {report.seconds:.1f} s, "
                              f"{report.xlsx.name}, {report.pdf.name}")
            if options["output"]:
                self._copy(report, options["output"])
        if failed:
            raise CommandError("not made: " + "; ".join(failed))

    def _copy(self, report: GovernanceReport, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for kind in ("xlsx", "pdf"):
            target = folder / f"governance-{report.subdistrict.code}-{report.month:%Y-%m}.{kind}"
            with default_storage.open(getattr(report, kind).name, "rb") as source:
                target.write_bytes(source.read())
            self.stdout.write(f"  {target}")
