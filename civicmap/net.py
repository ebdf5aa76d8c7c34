"""The client's address, from the trusted-proxy setting only.

Every part of the platform that needs "who is asking" by address (django-axes' login lockout,
DRF's throttles, logs) calls ``client_ip``. ``X-Forwarded-For`` is written by the client as
much as by proxies: a client can send any address in it. Only the entries our own proxies
appended can be believed, and only when we know how many proxies stand in front of us:
``TRUSTED_PROXY_COUNT`` (0 by default: no proxy, the TCP peer ``REMOTE_ADDR`` is the client).

With N trusted proxies each appends the address it received the request from, so the client is
the N-th entry from the right; anything left of it was sent by the client and is ignored. This is
DRF's rule for ``NUM_PROXIES`` (``SimpleRateThrottle.get_ident``), which the settings set to the
same number, so the throttles and the lockout count the same address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR`` without trusted proxies, else the entry of
    ``X-Forwarded-For`` that the outermost trusted proxy appended (the N-th from the right).

    An entry that is not an IP address (a proxy misconfigured, or fewer proxies than
    configured let garbage through) falls back to ``REMOTE_ADDR``: never a string the
    client chose.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    entries = forwarded.split(",")
    candidate = entries[-min(proxies, len(entries))].strip()
    return candidate if _valid(candidate) else remote
