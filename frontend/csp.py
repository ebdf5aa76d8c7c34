"""Content-Security-Policy for our pages: scripts only from our origin or with the page's nonce.

The pages render folium's inline scripts; each gets a nonce that is new for every response,
so an injected ``<script>`` (which cannot know it) does not run, and ``'unsafe-inline'`` and
``'unsafe-eval'`` are never allowed for scripts. Styles are held to the same rule. Images may
also come from the basemap's tile servers (tiles are images, not code).

Only the views wrapped in ``csp_protected`` send the header: the admin and the API docs keep
Django's and drf-spectacular's own inline scripts working.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from functools import wraps

from django.http import HttpRequest, HttpResponse

NONCE_BYTES = 18  # 144 bits, base64url: 24 characters


def csp_nonce_new() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def csp_header_value(*, nonce: str, image_hosts: Iterable[str] = ()) -> str:
    images = " ".join(["'self'", "data:", "blob:", *image_hosts])
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        f"img-src {images}",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
    return "; ".join(directives)


def csp_protected(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Give the request a fresh ``csp_nonce`` and send the policy with the response.

    A view that shows tiles from elsewhere sets ``request.csp_image_hosts``.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        request.csp_nonce = csp_nonce_new()  # type: ignore[attr-defined]
        request.csp_image_hosts = ()  # type: ignore[attr-defined]
        response = view(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = csp_header_value(
            nonce=request.csp_nonce,  # type: ignore[attr-defined]
            image_hosts=request.csp_image_hosts,  # type: ignore[attr-defined]
        )
        return response

    return wrapped
