"""The states a transactional test is put back to (tests/reference_state.py): a module's rows
pushed over the session's, and the session's once the module is done."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.reference_state import STATES, reference_state_pushed, reference_state_restore


@pytest.mark.django_db(transaction=True)
def test_a_pushed_state_is_restored_to_then_the_one_below_it():
    Group.objects.create(name="shared by a module")
    below = STATES[-1]

    with reference_state_pushed() as pushed:
        assert STATES[-1] is pushed and STATES[-2] is below
        Group.objects.filter(name="shared by a module").update(name="changed by a test")
        Group.objects.create(name="written by a test")
        assert set(reference_state_restore(state=pushed)) == {"auth_group"}
        assert set(Group.objects.filter(name__contains=" by a ").values_list(
            "name", flat=True)) == {"shared by a module"}

    assert STATES[-1] is below
    assert not Group.objects.filter(name__contains=" by a ").exists()
