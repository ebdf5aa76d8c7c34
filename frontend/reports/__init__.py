"""The monthly governance report (issue 17): one subdistrict's month as an XLSX workbook and a
PDF with charts and a map, made in the background and kept for download.

``months`` parses the month asked for; ``figures`` reads the figures through patrol's statistics
selectors (the dashboard's own, so the two agree); ``xlsx`` and ``pdf`` write the documents
from those plain values (``charts`` and ``mapimage`` draw for the PDF); ``services`` makes and
stores a report, ``selectors`` lists and finds them by the reader's scope; ``views`` and
``forms`` are the page at /office/reports/.

Every string of the report and its page has the msgctxt "governance report" (its headings,
"Reports" or "Closed", read differently here than elsewhere), written out in each call: xgettext
extracts a context only when it is a literal, so a constant would leave makemessages blind to them.
"""
