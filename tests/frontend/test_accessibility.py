"""Every page usable by everyone (issue 19, "Accessibility"): a crawler that signs in as each
role, opens every HTML page that role may open and runs axe-core on it (0 serious or critical
violations), the same in the admin with nothing excluded; then it checks the phone pages' tap
targets and text at 200 % size, the desktop pages at 200 % browser zoom, and that every chart
and map has its numbers in a table.

Which pages: every GET route of ``frontend/`` is either a page (``PAGES``, with the role that
shows it signed in where the phone pages sign in themselves) or exempt with a reason
(``NOT_PAGES``: CSV, PDF, feeds, JSON); ``test_every_page_route_is_crawled_or_exempt`` fails
for a new route in neither. Who sees a page, and at which URL, is the permission matrix's row
(tests/civicmap/test_permission_matrix.py ``MATRIX``): each role in ``CRAWLED_ROLES`` opens the
pages its row answers 200. The admin is crawled as the superuser: its index, and every
registered model's change list and one change form (an object's, or the add form when there is
none); Django's markup there is fixed by civicmap/templates/admin/base_site.html.

Tap targets (WCAG 2.5.5 / 2.5.8) on the phone pages and the public pages at 360 × 740: every
visible link, button, input, select and summary is at least 44 × 44 CSS px, or a 44 px square
centred on it touches no other target. Exempt: a link inline in a sentence (WCAG 2.5.8's
"inline" exception), and a checkbox or radio whose label (the target people tap) passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.civicmap.conftest import Demo, demo_committed  # noqa: F401  (the module's objects)
from tests.civicmap.test_permission_matrix import MATRIX, ROLE_USERS, _routes
from tests.frontend.conftest import WATCH_SCRIPT, Watched, elsewhere_record
from tests.frontend.phone_helpers import (
    PHONE_VIEWPORT,
    phone_fixture,  # noqa: F401  (the phone fixture)
    sign_in_with_code,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(demo_committed, transactional_db, settings) -> Demo:  # noqa: F811  (a fixture)
    """The permission matrix's objects, committed once for the module (the crawls only read
    them)."""
    made, media = demo_committed
    settings.MEDIA_ROOT = media
    return made


# The roles the crawler signs in as (ROLE_USERS names their demo users): a volunteer is the
# team leader's page without the leader's buttons, Heyi's staff see Nanyuan's pages' shapes.
CRAWLED_ROLES = ("anonymous", "rider", "team_leader", "liaison", "office", "office_district",
                 "union", "admin")
SERIOUS = ("serious", "critical")
# Violations found and left to the code that makes them (issue 19's other branches), each with
# where it comes from; the crawl fails once one is fixed, so that it is taken off this list.
REPORTED: dict[str, str] = {}
DESKTOP = {"width": 1280, "height": 860}
# Chrome at 200 % zoom in a 1280 × 800 window: the page is laid out in 640 × 400 CSS px, each
# drawn with 2 × 2 device pixels.
ZOOMED = {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2}


@dataclass(frozen=True)
class Page:
    """An HTML page: the phone pages also open signed in, as ``signed_in_as`` in the page."""

    signed_in_as: str | None = None


PAGES = {
    "frontend:home": Page(),
    "frontend:public-case": Page(),
    "frontend:public-community": Page(),
    "frontend:map": Page(),
    "frontend:rider": Page(signed_in_as="rider"),
    "frontend:team": Page(signed_in_as="team_leader"),
    "frontend:office": Page(),
    "frontend:office-case": Page(),
    "frontend:office-calendar": Page(),
    "frontend:office-stats": Page(),
    "frontend:office-geography": Page(),
    "frontend:reports": Page(),
    "frontend:union-council": Page(),
    "frontend:union-council-meetings": Page(),
    "frontend:union-council-meeting": Page(),
    "frontend:union-members": Page(),
    "frontend:union-visits": Page(),
    "frontend:union-coverage": Page(),
    "frontend:union-stations": Page(),
    "frontend:union-station-new": Page(),
    "frontend:union-station": Page(),
    "frontend:union-station-sheet": Page(),
    "frontend:union-awards": Page(),
}
NOT_PAGES = {
    "frontend:map-hourly": "GeoJSON of the map's hourly layer",
    "frontend:map-uncovered": "GeoJSON of the map's uncovered layer",
    "frontend:map-data": "JSON of the map's layers for its filters",
    "frontend:map-unit-grids": "GeoJSON of the unit grids' shapes",
    "frontend:map-background": "JSON of the plain basemap's outlines (encoded polylines)",
    "frontend:office-cases": "JSON of the console's list",
    "frontend:office-cases-bulk": "POST only (405 for GET)",
    "frontend:office-stats-csv": "CSV download",
    "frontend:reports-status": "JSON of the reports' progress",
    "frontend:report-download": "PDF / XLSX download",
    "frontend:office-geography-export": "file download (CSV, GeoJSON, shapefile)",
    "frontend:union-visits-csv": "CSV download",
    "frontend:union-station-sheet-pdf": "PDF download",
    "frontend:union-award-certificate": "PDF download",
    "frontend:rider-sw": "the service worker's JavaScript",
    "frontend:rider-manifest": "the web app manifest (JSON)",
    "frontend:phone-me": "JSON of the signed-in phone user",
    "frontend:feed-subdistrict": "Atom feed (XML)",
    "frontend:feed-community": "Atom feed (XML)",
}
# Phone-sized pages whose tap targets and 200 % text are checked.
PHONE_PAGES = ("frontend:rider", "frontend:team", "frontend:home", "frontend:public-case",
               "frontend:public-community")
# Desktop pages (every page but those that sign in themselves, the phone's) are checked at
# 200 % zoom as the first of these roles whose row answers 200 (the admin: a Heyi meeting); a
# page whose JavaScript draws after it loads is checked once this selector is there.
ZOOM_ROLES = ("anonymous", "office", "union", "admin")
DRAWN = {"frontend:office": "#office-console[data-loaded]"}

# Charts (ECharts boxes) and maps (Leaflet) on the page without a table of their numbers: in
# the chart's section (an empty period's table says so in a row), for a map anywhere on the
# page.
CHARTS_WITHOUT_NUMBERS = """() => {
  const tabled = (root) => root.querySelector('table tr td, table tr th[scope=row]') !== null;
  const charts = [...document.querySelectorAll('.stats-chart')];
  const maps = [...document.querySelectorAll('.leaflet-container')];
  const bare = charts.filter(chart => !tabled(chart.closest('section') || document.body))
    .map(chart => 'chart #' + chart.id);
  // A pin to drag (a station's door) has its numbers in the coordinates' inputs.
  const pinned = document.querySelector('input[name=lon]') !== null;
  // A map's numbers may also be a list of what it shows (the console's cases).
  const listed = [...document.querySelectorAll('li')].some(li => !li.closest('nav, header'));
  if (maps.length && !pinned && !listed && !tabled(document.body)) bare.push('map');
  return {charts: charts.length, maps: maps.length, bare: bare};
}"""

# The controls people tap, visible now, each with its box.
TARGETS = """
const TARGET = 'a[href], button, input:not([type=hidden]), select, textarea, summary, '
  + '[role=button], [tabindex]:not([tabindex="-1"])';
function visibleTargets() {
  return [...document.querySelectorAll(TARGET)].filter(el => el.checkVisibility({
    checkOpacity: true, checkVisibilityCSS: true}) && el.getBoundingClientRect().width > 0);
}
function describe(el, r) {
  const text = (el.getAttribute('aria-label') || el.textContent || el.name || '').trim();
  return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.className && typeof el.className === 'string' ? '.' + el.className.trim()
       .split(/\\s+/).join('.') : '') + ' "' + text.slice(0, 30) + '" '
    + Math.round(r.width) + 'x' + Math.round(r.height);
}
function overlaps(a, b) {
  return a.left < b.right - 1 && a.right > b.left + 1 && a.top < b.bottom - 1
    && a.bottom > b.top + 1;
}
"""

SMALL_TARGETS = "() => {" + TARGETS + """
  const targets = visibleTargets();
  const boxes = targets.map(el => el.getBoundingClientRect());
  const inline = el => el.tagName === 'A' && getComputedStyle(el).display === 'inline'
    && el.parentElement.textContent.trim().length > el.textContent.trim().length;
  // A shape of a drawn map whose link is also elsewhere on the page (WCAG 2.5.8 "equivalent").
  const mapped = el => el.closest('svg, .leaflet-container') && el.getAttribute('href')
    && [...document.querySelectorAll('a[href]')].some(other => other !== el
      && !other.closest('svg, .leaflet-container')
      && other.getAttribute('href') === el.getAttribute('href'));
  const labelled = el => ['checkbox', 'radio'].includes(el.type) && el.labels
    && [...el.labels].some(l => l.getBoundingClientRect().height >= 44
                               || l.contains(el));
  return targets.flatMap((el, i) => {
    const r = boxes[i];
    if ((r.width >= 44 && r.height >= 44) || inline(el) || labelled(el) || mapped(el))
      return [];
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    const square = {left: cx - 22, right: cx + 22, top: cy - 22, bottom: cy + 22};
    const near = targets.some((other, j) => j !== i && !other.contains(el)
      && !el.contains(other) && overlaps(square, boxes[j]));
    return near ? [describe(el, r)] : [];
  });
}"""

# What breaks when text grows (at 200 % text or zoom): the page scrolls sideways, or a control
# overlaps another or clips its text.
LAYOUT_PROBLEMS = "() => {" + TARGETS + """
  const problems = [];
  const root = document.scrollingElement;
  if (root.scrollWidth > window.innerWidth + 1)
    problems.push('scrolls sideways: ' + root.scrollWidth + ' px wide for '
                  + window.innerWidth);
  // A drawn map's shapes overlap by nature; a fixed or sticky bar lies over content that
  // scrolls out from under it.
  const pinned = el => { for (let up = el; up; up = up.parentElement) {
    if (['fixed', 'sticky'].includes(getComputedStyle(up).position)) return true; }
    return false; };
  // What shows of a control: its box cut by every scrolling ancestor (the console's list).
  const shown = el => { let r = el.getBoundingClientRect();
    r = {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
         height: r.height};
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (getComputedStyle(up).overflow === 'visible') continue;
      const c = up.getBoundingClientRect();
      r.left = Math.max(r.left, c.left); r.right = Math.min(r.right, c.right);
      r.top = Math.max(r.top, c.top); r.bottom = Math.min(r.bottom, c.bottom);
    }
    return r; };
  const targets = visibleTargets().filter(el => !el.closest('svg, .leaflet-container'));
  const boxes = targets.map(shown);
  const bars = targets.map(pinned);
  targets.forEach((el, i) => {
    const style = getComputedStyle(el);
    if (style.overflowX !== 'visible' && el.tagName !== 'TEXTAREA'
        && el.tagName !== 'SELECT' && el.scrollWidth > el.clientWidth + 1)
      problems.push('clips its text: ' + describe(el, boxes[i]));
    targets.forEach((other, j) => {
      if (j > i && !bars[i] && !bars[j] && !other.contains(el) && !el.contains(other)
          && overlaps(boxes[i], boxes[j])
          && !(el.labels && [...el.labels].includes(other))
          && !(other.labels && [...other.labels].includes(el)))
        problems.push('overlaps: ' + describe(el, boxes[i]) + ' / '
                      + describe(other, boxes[j]));
    });
  });
  return problems;
}"""
# The same with the root font size doubled, as a browser's text size setting does.
BIG_TEXT_PROBLEMS = ("() => { document.documentElement.style.fontSize = '200%'; return ("
                     + LAYOUT_PROBLEMS + ")(); }")


def _frontend_get_routes() -> set[str]:
    return {name for route, name, view in _routes()
            if name and name.startswith("frontend:") and "GET" in _get_methods(view)}


def _get_methods(view) -> set[str]:
    return {"GET"} if view is None or hasattr(view, "get") else set()


def test_every_page_route_is_crawled_or_exempt():
    """A new page of ``frontend/`` cannot be forgotten: every GET route is in ``PAGES`` or in
    ``NOT_PAGES`` with its reason, and every page has a row in the permission matrix."""
    routes = _frontend_get_routes()
    assert sorted(routes - set(PAGES) - set(NOT_PAGES)) == []
    assert sorted((set(PAGES) | set(NOT_PAGES)) - routes) == []
    assert not set(PAGES) & set(NOT_PAGES)
    assert [name for name in PAGES if (name, "GET") not in MATRIX] == []


def _admin_apps() -> list[str]:
    """The app labels of the admin's registered models, each crawled by a test of its own."""
    return sorted({model._meta.app_label for model in admin.site._registry})


def _admin_paths(app_label: str) -> list[str]:
    """One app's registered models in the admin, each its change list and one change form; the
    first app's also the admin's index."""
    paths = [reverse("admin:index")] if app_label == _admin_apps()[0] else []
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label != app_label:
            continue
        paths.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:  # an empty table's form is the add form, read-only ones have none
            paths.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change",
                                 args=[first.pk]))
    return paths


def _context(chromium, live_server, session_for, role: str, **options):
    """A browser context in Chinese, signed in as ``role``'s demo user (none for anonymous);
    ``options`` are Playwright's (viewport, device scale factor)."""
    context = chromium.new_context(locale="zh-CN", **options)
    if ROLE_USERS[role]:
        context.add_cookies([{"name": "sessionid", "value": session_for(ROLE_USERS[role]),
                              "url": live_server.url}])
    return context


def _watch(context) -> Watched:
    """A page of ``context`` whose requests elsewhere are refused and recorded, and errors
    collected."""
    page = context.new_page()
    watched = Watched(page=page)

    elsewhere_record(context, watched)
    context.add_init_script(WATCH_SCRIPT)
    watched.follow_requests()
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    return watched


def _signed_in(page, role: str) -> None:
    """Sign the phone page in as ``role``'s demo user, as people do on it."""
    from fixtures.seed import DEMO_PASSWORD

    username = ROLE_USERS[role]
    if role == "rider":
        page.wait_for_selector("#signin:not([hidden])")
        sign_in_with_code(page, Token.objects.get(user__username=username).key)
        return
    page.click("#signin details summary")
    page.fill("#signin-username", username)
    page.fill("#signin-password", DEMO_PASSWORD)
    page.click("#signin-password-form button[type=submit]")
    page.wait_for_selector("body[data-ready]")


def _audited(watched: Watched, label: str) -> tuple[list[str], dict]:
    """What is wrong with the loaded page, one line each labelled ``label`` (axe's serious and
    critical violations, charts and maps without a table, errors, requests elsewhere), and
    the charts and maps it counted."""
    page = watched.page
    watched.settle()
    found = [f"{label}: {violation}"
             for violation in watched.axe_violations(impacts=SERIOUS)]
    figures = page.evaluate(CHARTS_WITHOUT_NUMBERS)
    found += [f"{label}: {bare} has no numbers in a table" for bare in figures["bare"]]
    found += [f"{label}: {error}" for error in watched.page_errors]
    found += [f"{label}: fetched {url}" for url in watched.blocked]
    watched.page_errors.clear()
    watched.blocked.clear()
    return found, figures


@pytest.fixture
def crawl_settings(settings):
    settings.BASEMAP = "none"  # no tiles to abort: the check is of our markup
    settings.OFFICE_POLL_MS = 600_000  # the console stays still while axe reads it


def _visits(demo) -> list[tuple[str, str]]:
    """(role, path) of every page each crawled role may open."""
    return [(role, MATRIX[(name, "GET")].url(demo))
            for role in CRAWLED_ROLES for name in PAGES
            if MATRIX[(name, "GET")].expect[role] == 200]


@pytest.mark.parametrize("role", [*CRAWLED_ROLES, "phone"])
def test_every_page_has_no_serious_axe_violation(role, demo, crawl_settings,
                                                 chromium, live_server, session_for):
    """Each role's pages, and (``phone``) the phone pages signed in: axe-core finds nothing
    serious or critical, and every chart or map has its numbers in a table. A test a role, so
    that the runner's workers share the crawl; over 20 s for the largest roles (every page in
    Chromium, each audited by axe)."""
    found: list[str] = []
    seen_charts: dict[str, dict] = {}

    def check(watched: Watched, label: str) -> None:
        lines, seen_charts[label] = _audited(watched, label)
        found.extend(lines)

    if role == "phone":
        for name, page_ in PAGES.items():
            if page_.signed_in_as:
                context = chromium.new_context(locale="zh-CN", viewport=PHONE_VIEWPORT,
                                               is_mobile=True, has_touch=True)
                watched = _watch(context)
                watched.page.goto(live_server.url + reverse(name))
                _signed_in(watched.page, page_.signed_in_as)
                check(watched, f"{page_.signed_in_as} {reverse(name)} (phone, signed in)")
                context.close()
    else:
        context = _context(chromium, live_server, session_for, role, viewport=DESKTOP)
        watched = _watch(context)
        for path in [path for who, path in _visits(demo) if who == role]:
            watched.page.goto(live_server.url + path)
            check(watched, f"{role} {path}")
        context.close()
    reported = {line for line in REPORTED if line.startswith(f"{role} ")}
    assert sorted(reported - set(found)) == [], "fixed: take these off REPORTED"
    found = [line for line in found if line not in REPORTED]
    assert found == [], "serious or critical:\n" + "\n".join(found)
    assert seen_charts, "no page was crawled"
    if role == "office":
        stats = seen_charts[f"office {reverse('frontend:office-stats')}"]
        assert stats["charts"] > 0, stats  # the check saw the charts it is about
    if role == "anonymous":
        assert seen_charts[f"anonymous {reverse('frontend:map')}"]["maps"] == 1


@pytest.mark.parametrize("app_label", _admin_apps())
def test_the_admin_has_no_serious_axe_violation(app_label, demo, crawl_settings,
                                                chromium, live_server, session_for):
    """The admin as the superuser, its index and every registered model's list and form (a
    test an app): axe-core finds nothing serious or critical in Django's markup as our
    admin/base_site.html changes it (breadcrumbs' links underlined, filter_horizontal's search
    icons named images), with nothing excluded. Over 20 s for the largest app: every list and
    form in Chromium, each audited by axe."""
    context = _context(chromium, live_server, session_for, "admin", viewport=DESKTOP)
    watched = _watch(context)
    found: list[str] = []
    icons = 0
    paths = _admin_paths(app_label)
    for path in paths:
        watched.page.goto(live_server.url + path)
        found += _audited(watched, f"admin {path}")[0]
        icons += watched.page.locator(".search-label-icon[role=img][aria-label]").count()
    context.close()
    assert paths and found == [], "serious or critical:\n" + "\n".join(found)
    if app_label == "patrol":
        assert icons > 0  # the crawl met a filter_horizontal widget (patrol's teams)


@pytest.fixture
def phone_pages(demo, crawl_settings, phone) -> Callable:
    """``phone_pages()`` → (label, Watched) of each phone page, signed in where it signs in."""
    def opened():
        for name in PHONE_PAGES:
            path = MATRIX[(name, "GET")].url(demo)
            watched = phone(path)
            if PAGES[name].signed_in_as:
                _signed_in(watched.page, PAGES[name].signed_in_as)
            watched.page.wait_for_load_state("networkidle")
            yield path, watched
    return opened


def test_phone_tap_targets_are_44_px(phone_pages):
    """WCAG 2.5.5 / 2.5.8 on the pages people use on a phone (exemptions: the module's
    docstring)."""
    small = [f"{path}: {target}" for path, watched in phone_pages()
             for target in watched.page.evaluate(SMALL_TARGETS)]
    assert small == [], "tap targets under 44 px with neighbours nearer than 44 px:\n" + \
        "\n".join(small)


def test_phone_pages_work_at_200_percent_text(phone_pages):
    """WCAG 1.4.4 (resize text) on a phone, where people enlarge the text, not the page: with
    the root font size doubled (as the browser's text size setting does) the phone pages
    neither scroll sideways nor overlap or clip a control."""
    problems = [f"{path}: {problem}" for path, watched in phone_pages()
                for problem in watched.page.evaluate(BIG_TEXT_PROBLEMS)]
    assert problems == [], "at 200 % text:\n" + "\n".join(problems)


def _desktop_visits(demo) -> list[tuple[str, str, str]]:
    """(role, name, path) of each desktop page, as the first of ``ZOOM_ROLES`` that may open
    it."""
    visits = []
    for name, page_ in PAGES.items():
        if not page_.signed_in_as:
            row = MATRIX[(name, "GET")]
            role = next(role for role in ZOOM_ROLES if row.expect[role] == 200)
            visits.append((role, name, row.url(demo)))
    return visits


def test_desktop_pages_work_at_200_percent_zoom(demo, crawl_settings, chromium,
                                                live_server, session_for):
    """WCAG 1.4.4 (resize text) on a desktop, where people zoom the page: at Chrome's 200 %
    zoom of a 1280 × 800 window (``ZOOMED``) no desktop page (office, union, map, public)
    scrolls sideways, nor overlaps or clips a control."""
    problems: list[str] = []
    visits = _desktop_visits(demo)
    for role in ZOOM_ROLES:
        context = _context(chromium, live_server, session_for, role, **ZOOMED)
        watched = _watch(context)
        for name, path in [(name, path) for who, name, path in visits if who == role]:
            watched.page.goto(live_server.url + path)
            watched.settle()
            if name in DRAWN:
                watched.page.wait_for_selector(DRAWN[name])
            assert watched.page.evaluate("[innerWidth, devicePixelRatio]") == [640, 2]
            problems += [f"{role} {path}: {problem}"
                         for problem in watched.page.evaluate(LAYOUT_PROBLEMS)]
            problems += [f"{role} {path}: {error}" for error in watched.page_errors]
            watched.page_errors.clear()
        context.close()
    assert problems == [], "at 200 % zoom:\n" + "\n".join(problems)


def test_the_crawl_covers_the_admin(demo):
    """Every registered model of the admin is in the crawl (its list and a form)."""
    paths = [path for app_label in _admin_apps() for path in _admin_paths(app_label)]
    assert len(paths) > 1 + len(admin.site._registry) and len(set(paths)) == len(paths)
    assert {model._meta.app_label for model in admin.site._registry} >= {
        config.label for config in django_apps.get_app_configs()
        if config.label in {"civicmap", "issues", "patrol", "stations"}}
