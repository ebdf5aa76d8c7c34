"""civicmap.scopes, the one rule of where a staff account works (issue 16, roles by
subdistrict): no membership sees no subdistrict, a NULL membership every one, a subdistrict's
membership that one; a superuser everywhere."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from civicmap.models import Membership, Subdistrict
from civicmap.scopes import EVERYWHERE, in_scope_q, user_covers, user_subdistrict_ids

pytestmark = pytest.mark.django_db

NANYUAN, HEYI = "110106005", "110106016"


def fresh(username: str):
    """A fresh user object: the scope is cached on the instance."""
    return get_user_model().objects.get(username=username)


def place(code: str) -> Subdistrict:
    return Subdistrict.objects.get(code=code)


def codes(user) -> list[str]:
    return sorted(Subdistrict.objects.filter(in_scope_q(user, field="pk"))
                  .values_list("code", flat=True))


def test_a_staff_account_without_membership_sees_no_subdistrict(reference_data):
    Membership.objects.filter(user__username="office1").delete()
    office = fresh("office1")
    assert user_subdistrict_ids(office) == frozenset()
    assert codes(office) == []
    assert not user_covers(office, place(NANYUAN).pk)


def test_a_membership_without_subdistrict_is_the_whole_district(reference_data):
    district = fresh("office_district")
    assert user_subdistrict_ids(district) is EVERYWHERE
    assert in_scope_q(district) == in_scope_q(fresh("admin"))  # no condition at all
    assert codes(district) == sorted(Subdistrict.objects.values_list("code", flat=True))
    assert all(user_covers(district, pk) for pk in Subdistrict.objects.values_list("pk",
                                                                               flat=True))


def test_a_subdistricts_staff_cover_that_subdistrict_only(reference_data):
    for username, code in [("office1", NANYUAN), ("union1", NANYUAN),
                           ("office_heyi1", HEYI), ("union_heyi1", HEYI)]:
        account = fresh(username)
        assert codes(account) == [code], username
        assert user_covers(account, place(code).pk)
        other = HEYI if code == NANYUAN else NANYUAN
        assert not user_covers(account, place(other).pk)


def test_the_superuser_is_everywhere_and_the_anonymous_nowhere(reference_data):
    assert user_subdistrict_ids(fresh("admin")) is EVERYWHERE
    assert user_subdistrict_ids(AnonymousUser()) == frozenset()


def test_the_scope_is_read_once_per_user_object(reference_data, django_assert_num_queries):
    office = fresh("office1")
    nanyuan = place(NANYUAN).pk
    with django_assert_num_queries(1):
        user_subdistrict_ids(office)
        assert user_covers(office, nanyuan)
        in_scope_q(office)
