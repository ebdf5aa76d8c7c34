"""Open311 GeoReport v2 at /open311/v2/: the standard other 311 software speaks.

``definitions`` holds the service attributes as data, ``inputs`` reads and checks parameters,
``selectors`` the reads (discovery, services, service requests), ``services`` the writes (a POST
goes through the one intake service) and the media fetch, ``tasks`` its Celery job, ``formats``
the XML and JSON bodies, ``views`` the thin HTTP edge.
"""
