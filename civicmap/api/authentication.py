"""DRF token authentication that reads the user's rider profile in the same query."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from civicmap.db import columns_sql, joined_instances

# DRF's own messages (translated by DRF's catalogue), as its TokenAuthentication answers them.
MSG_INVALID_TOKEN = _("Invalid token.")
MSG_USER_INACTIVE = _("User inactive or deleted.")


class TokenWithRiderAuthentication(TokenAuthentication):
    """DRF's ``TokenAuthentication``, with the token's user and their rider profile (none for
    staff) read in one statement: a rider's request asks for the profile next (``IsRider``).

    The statement is what ``Token.objects.select_related("user__rider").get(key=…)`` sends,
    built once instead of by the ORM on every request (about 1 ms of a web worker's CPU, ten
    times its round trip: docs/BENCHMARKS.md §2), and its row is loaded as that query would
    load it. The rider profile is reached through the user's reverse relation ``rider``
    (issues sits above civicmap and is not imported here)."""

    def authenticate_credentials(self, key: str) -> tuple:
        sql, models = _token_statement()
        with connection.cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(MSG_INVALID_TOKEN) from None
        token, user, rider = joined_instances(models=models, row=row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(MSG_USER_INACTIVE)
        token.user = user
        if rider is None:  # staff: known to have none, as select_related leaves it
            _rider_relation().set_cached_value(user, None)
        else:
            rider.user = user  # and user.rider, both ways as select_related sets them
        return user, token


def _rider_relation():
    """The user's reverse one-to-one ``rider`` (a rider profile, none for staff)."""
    return get_user_model()._meta.get_field("rider")


_STATEMENT: tuple[str, list[type[Model]]] | None = None


def _token_statement() -> tuple[str, list[type[Model]]]:
    """(SQL, [Token, User, Rider]): the token by key joined with its user and the user's rider
    profile if any, every concrete column of each; built on first use (the app registry must
    be ready)."""
    global _STATEMENT
    if _STATEMENT is None:
        user_model = get_user_model()
        rider_model = _rider_relation().related_model
        models = [Token, user_model, rider_model]
        columns = ", ".join(columns_sql(model=model, alias=f"m{index}")
                            for index, model in enumerate(models))
        rider_user = rider_model._meta.get_field("user").column
        _STATEMENT = (
            f"SELECT {columns} FROM {Token._meta.db_table} m0 "
            f"JOIN {user_model._meta.db_table} m1 "
            f"ON m1.{user_model._meta.pk.column} = m0.{Token._meta.get_field('user').column} "
            f"LEFT JOIN {rider_model._meta.db_table} m2 "
            f"ON m2.{rider_user} = m1.{user_model._meta.pk.column} "
            f"WHERE m0.{Token._meta.pk.column} = %s",
            models)
    return _STATEMENT

