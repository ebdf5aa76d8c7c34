"""Atom feeds of the public cases opened and closed, per subdistrict and per community grid
(/feeds/subdistrict/<code>.atom, /feeds/community/<code>.atom), announced on the public pages
with ``<link rel="alternate" type="application/atom+xml">``.

Django's syndication framework writes the Atom; the entries are
``issues.selectors_public.case_feed_entries`` (public categories only, newest first, at most 50).
Each entry links to the case's public page and says what happened, where and when: nothing of
who reported it or what they wrote. Texts in the reader's language (Accept-Language, the
language cookie); an unknown code is the site's 404 page.
"""

from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from civicmap.i18n import name_field
from civicmap.models import CommunityGrid, Subdistrict
from civicmap.selectors import subdistrict_get
from issues.models import Stage
from issues.selectors_public import FeedEntry, case_feed_entries


class _CaseFeed(Feed):
    """What both feeds share: the entries and how each is written."""

    feed_type = Atom1Feed

    def name(self, place) -> str:
        return getattr(place, name_field())

    def title(self, place) -> str:
        return _("Cases opened and closed: %(place)s") % {"place": self.name(place)}

    def subtitle(self, place) -> str:
        return _("The newest public cases of %(place)s, as they are opened and closed.") % {
            "place": self.name(place)}

    def item_title(self, item: FeedEntry) -> str:
        label = name_field()
        values = {"number": item.case.pk, "category": getattr(item.case.category, label),
                  "community": getattr(item.case.community_grid, label, "")
                  or getattr(item.case.subdistrict, label)}
        if item.kind == "new":
            return _("New case %(number)s: %(category)s, %(community)s") % values
        return _("Case %(number)s %(stage)s: %(category)s, %(community)s") % {
            **values, "stage": Stage(item.case.stage).label}

    def item_description(self, item: FeedEntry) -> str:
        return _("Stage now: %(stage)s") % {"stage": Stage(item.case.stage).label}

    def item_link(self, item: FeedEntry) -> str:
        return reverse("frontend:public-case", kwargs={"case_id": item.case.pk})

    def item_guid(self, item: FeedEntry) -> str:
        # One case has two entries (opened, closed): each its own id, stable across languages.
        return f"tag:civicmap,2026:case/{item.key}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: FeedEntry):
        return item.at

    def item_updateddate(self, item: FeedEntry):
        return item.at


class SubdistrictFeed(_CaseFeed):
    """A subdistrict's feed; its page is the public map of the subdistrict."""

    def get_object(self, request: HttpRequest, code: str) -> Subdistrict:
        subdistrict = subdistrict_get(code=code)
        if subdistrict is None:
            raise Http404
        return subdistrict

    def items(self, place: Subdistrict) -> list[FeedEntry]:
        return case_feed_entries(subdistrict_id=place.pk)

    def link(self, place: Subdistrict) -> str:
        return f"{reverse('frontend:map')}?subdistrict={place.code}"


class CommunityFeed(_CaseFeed):
    """A community grid's feed; its page is the community's view."""

    def get_object(self, request: HttpRequest, code: str) -> CommunityGrid:
        community = CommunityGrid.objects.filter(code=code).first()
        if community is None:
            raise Http404
        return community

    def items(self, place: CommunityGrid) -> list[FeedEntry]:
        return case_feed_entries(community=place.code)

    def link(self, place: CommunityGrid) -> str:
        return reverse("frontend:public-community", kwargs={"code": place.code})
