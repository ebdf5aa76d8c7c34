"""The monthly nomination list (先锋骑手, issue 18): who the rules include and exclude, in which
order, and the leaderboard and the rider's API showing an award."""

from __future__ import annotations

import pytest

from civicmap.models import Subdistrict
from issues.models import Rider
from issues.selectors_awards import award_nominee_list, award_rules
from issues.selectors_points import leaderboard
from patrol.services.awards import award_decision_record
from tests.issues.award_helpers import MARCH, nominations  # noqa: F401
from tests.patrol.helpers import API, client_for, cst, user

pytestmark = pytest.mark.django_db
NANYUAN, HEYI = "110106005", "110106016"


def subdistrict(code: str) -> Subdistrict:
    return Subdistrict.objects.get(code=code)


def names(nominees) -> list[str]:
    return [Rider.objects.get(pk=n.rider_id).user.username for n in nominees]


def test_the_rules_include_and_exclude_riders_in_rank_order(nominations):  # noqa: F811
    nominees = award_nominee_list(subdistrict=subdistrict(NANYUAN), month=MARCH)
    assert names(nominees) == ["rider2", "rider1"]
    assert [(n.rank, n.points, n.verified_reports, n.confirmations) for n in nominees] == [
        (1, 43, 2, 1), (2, 33, 2, 1)]


def test_a_subdistrict_counts_only_its_own_cases(nominations):  # noqa: F811
    assert award_nominee_list(subdistrict=subdistrict(HEYI), month=MARCH) == []


def test_an_inactive_rider_is_not_nominated(nominations):  # noqa: F811
    Rider.objects.filter(user__username="rider2").update(is_active=False)
    assert names(award_nominee_list(subdistrict=subdistrict(NANYUAN), month=MARCH)) == [
        "rider1"]


def test_the_rules_are_said_in_words_with_their_numbers():
    rules = award_rules()
    assert "30" in rules[0] and "2" in rules[1] and "1" in rules[2]
    assert len(rules) == 5


def _award_rider2():
    return award_decision_record(actor=user("union1"), subdistrict=subdistrict(NANYUAN),
                                 rider_id=Rider.objects.get(user__username="rider2").pk,
                                 month=MARCH, awarded=True, reason="表现突出",
                                 at=cst(2026, 4, 2, 10))


def test_the_leaderboard_shows_the_award(nominations):  # noqa: F811
    _award_rider2()
    for query in ({"month": "2026-03"}, {"month": "2026-03", "subdistrict": NANYUAN}):
        riders = client_for("rider1").get(f"{API}/leaderboard/", query).json()["riders"]
        shown = {row["display_name"]: row["awards"] for row in riders}
        assert shown["骑手李春生"] == [{"kind": "pioneer", "name": "先锋骑手"}]
        assert shown["骑手王小勇"] == []
    heyi = client_for("rider1").get(f"{API}/leaderboard/",
                                    {"month": "2026-03", "subdistrict": HEYI}).json()
    assert heyi["riders"][0]["awards"] == []  # Heyi's union gave no award
    april = client_for("rider1").get(f"{API}/leaderboard/", {"month": "2026-04"}).json()
    assert all(row["awards"] == [] for row in april["riders"])


def test_the_rider_lists_their_awards_with_the_certificate_link(nominations):  # noqa: F811
    award = _award_rider2()
    answer = client_for("rider2").get(f"{API}/me/awards/")
    assert answer.status_code == 200
    assert answer.json()["awards"] == [{
        "id": award.pk, "kind": "pioneer", "name": "先锋骑手", "month": "2026-03",
        "subdistrict": {"code": NANYUAN, "name": "南苑街道"},
        "decided_at": "2026-04-02T02:00:00Z",
        "certificate": f"/union/awards/{award.pk}/certificate.pdf"}]
    assert client_for("rider1").get(f"{API}/me/awards/").json() == {"awards": []}
    assert client_for("union1").get(f"{API}/me/awards/").status_code == 403
    assert client_for(None).get(f"{API}/me/awards/").status_code in (401, 403)


def test_the_list_and_the_leaderboard_cost_two_queries_each(nominations,  # noqa: F811
                                                            django_assert_num_queries):
    _award_rider2()
    nanyuan = subdistrict(NANYUAN)
    with django_assert_num_queries(2):  # the ledger grouped, the flagged reports
        assert len(award_nominee_list(subdistrict=nanyuan, month=MARCH)) == 2
    with django_assert_num_queries(2):  # the ledger grouped, the month's awards
        rows = leaderboard(month=MARCH)
    assert [row.awards for row in rows if row.awards] == [("pioneer",)]
