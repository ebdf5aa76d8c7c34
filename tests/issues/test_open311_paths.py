"""Every path under /open311/v2/ answers in the spec's error format, never Django's HTML page.

Found by fuzzing (tests/civicmap/test_fuzz_api.py): a path holding a newline (``%0A``) slipped
past the catch-all route, whose ``.`` stops at a newline, and got the HTML 404.
"""

from __future__ import annotations

import pytest
from django.test import Client

from issues.open311 import views as v

pytestmark = pytest.mark.django_db

PATHS = ["discovery.%0A", "discovery.json%0Ax", "%0A", "requests/%0A/x.json", "a%0Ab.json",
         "services/%0D%0A.xml"]


@pytest.mark.parametrize("path", PATHS)
def test_a_path_with_a_line_break_is_an_unknown_resource_in_the_spec_format(reference_data,
                                                                            path):
    response = Client().get(f"/open311/v2/{path}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    if path.endswith(".json"):
        assert response["Content-Type"].startswith("application/json")
        assert response.json() == [{"code": 404, "description": str(v.MSG_NO_RESOURCE)}]
    else:
        assert response["Content-Type"].startswith("text/xml")
        assert b"<errors><error><code>404</code>" in response.content
