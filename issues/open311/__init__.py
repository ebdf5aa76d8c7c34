"""Open311 GeoReport v2 at /open311/v2/: the standard other 311 software speaks.

``definitions`` holds the service attributes as data, ``selectors`` the reads (services,
service requests), ``services`` the writes (a POST goes through the one intake service) and the
media fetch, ``formats`` the XML and JSON bodies, ``views`` the thin HTTP edge.
"""
