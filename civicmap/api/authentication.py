"""DRF token authentication that reads the user's rider profile in the same query."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

# DRF's own messages (translated by DRF's catalogue), as its TokenAuthentication answers them.
MSG_INVALID_TOKEN = _("Invalid token.")
MSG_USER_INACTIVE = _("User inactive or deleted.")


class TokenWithRiderAuthentication(TokenAuthentication):
    """DRF's ``TokenAuthentication``, with the token's user and their rider profile (none for
    staff) read in one query: a rider's request asks for the profile next (``IsRider``), and
    building a query of its own costs the web worker more CPU than its round trip."""

    def authenticate_credentials(self, key: str) -> tuple:
        try:
            token = Token.objects.select_related("user__rider").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed(MSG_INVALID_TOKEN) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(MSG_USER_INACTIVE)
        return token.user, token
