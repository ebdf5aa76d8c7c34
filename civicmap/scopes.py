"""Where a staff account works: the subdistricts whose cases, tasks, stations and statistics it
sees (civicmap.models.Membership). One rule, used by every list, detail, map and rate.

Roles say what a person does, the membership where: office staff of Nanyuan and of 和义 hold the
same role and different memberships; a membership with no subdistrict is the whole district
(the district's office, the union federation, a department serving every subdistrict).
"""

from __future__ import annotations

from django.db.models import Q

from civicmap.models import Membership

EVERYWHERE = None  # the value of a scope that covers every subdistrict


def user_subdistrict_ids(user) -> frozenset[int] | None:
    """The subdistricts the account's work covers: None for every one (a superuser, or a
    membership with no subdistrict), an empty set for none (a staff account nobody placed yet:
    it sees no subdistrict's cases until given a membership). Cached on the user object."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    if user.is_superuser:
        return EVERYWHERE
    if not hasattr(user, "_subdistrict_scope"):
        rows = list(Membership.objects.filter(user=user).values_list("subdistrict_id", flat=True))
        user._subdistrict_scope = (frozenset() if not rows
                                   else EVERYWHERE if rows[0] is None else frozenset(rows))
    return user._subdistrict_scope


def in_scope_q(user, *, field: str = "subdistrict") -> Q:
    """A filter keeping the rows of the user's subdistricts (``field`` is the path to the row's
    subdistrict, e.g. ``"case__subdistrict"``); everything for the whole district."""
    scope = user_subdistrict_ids(user)
    if scope is EVERYWHERE:
        return Q()
    return Q(**{f"{field}__in": sorted(scope)})


def user_covers(user, subdistrict_id: int | None) -> bool:
    """Whether the user's work covers this subdistrict."""
    scope = user_subdistrict_ids(user)
    return scope is EVERYWHERE or subdistrict_id in scope
