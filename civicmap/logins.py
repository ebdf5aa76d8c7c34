"""Login lockout (django-axes): what a locked-out client is told, and for how long.

Axes counts failed logins per username and per client address (``civicmap.net.client_ip``) on
every path that checks a password through ``django.contrib.auth.authenticate``: the admin's
login, ``/accounts/login/`` and the phone's ``/phone/token/``. After ``LOGIN_FAILURE_LIMIT``
failures the username, or the address, is refused for ``LOGIN_COOLOFF_MINUTES`` even with the
right password. Forms get a page (``civicmap/locked_out.html``); the phone's token exchange
answers in the API's error shape itself (frontend.phone_views), which this callable keeps.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

MSG_LOCKED_OUT = _("Too many failed sign-ins for this account or from this address. "
                   "Try again in %(minutes)d minutes.")


def lockout_seconds() -> int:
    """How long a lockout lasts (seconds), from AXES_COOLOFF_TIME (a timedelta)."""
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds()))


def lockout_message() -> str:
    return MSG_LOCKED_OUT % {"minutes": math.ceil(lockout_seconds() / 60)}


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the page for a login form; a JSON answer (the API view has
    already refused in the API's error shape) is kept as it is."""
    content_type = original_response.get("Content-Type", "") if original_response else ""
    if original_response is not None and content_type.startswith("application/json"):
        return original_response
    response = render(request, "civicmap/locked_out.html",
                      {"message": lockout_message()}, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(lockout_seconds())
    return response
