"""Union rest stations (工会驿站) for riders: where they are, when they open, what they offer."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from civicmap.bounds import ACCURACY_MAX_M
from civicmap.models import WGS84, Subdistrict

DEFAULT_COVERAGE_RADIUS_M = 500  # metres: a few minutes' walk from the parked bike.
MAX_COVERAGE_RADIUS_M = 5000  # metres


class VenueType(models.TextChoices):
    PARTY_MASS_CENTRE = "party_mass_centre", _("Party-mass service centre")
    BANK = "bank", _("Bank")
    PHARMACY = "pharmacy", _("Pharmacy")
    RESTAURANT = "restaurant", _("Restaurant")
    CONVENIENCE_STORE = "convenience_store", _("Convenience store")


class Service(models.TextChoices):
    """What a station offers; the fixed list of the union programme."""

    CHARGING = "charging", _("Free phone charging")
    REST = "rest", _("Rest")
    WATER = "water", _("Drinking water")
    TEA = "tea", _("Tea")
    MICROWAVE = "microwave", _("Microwave")
    TOILET = "toilet", _("Toilet")
    FIRST_AID = "first_aid", _("First-aid kit")
    TYRE_REPAIR = "tyre_repair", _("Tyre repair discount")
    PHOTOCOPY = "photocopy", _("Free ID photocopies")
    HAIRCUT = "haircut", _("Haircut")
    UMBRELLA = "umbrella", _("Umbrella loan")
    WIFI = "wifi", _("Wi-Fi")


class Station(models.Model):
    """A 工会驿站 hosted in a venue. It must lie inside a subdistrict, whose station it is (a
    database trigger refuses it outside and sets its subdistrict)."""

    name_zh = models.CharField(_("Chinese name"), max_length=100, unique=True)
    name_en = models.CharField(_("English name"), max_length=100)
    venue_type = models.CharField(_("venue type"), max_length=20, choices=VenueType.choices)
    address_zh = models.CharField(_("address"), max_length=200, blank=True)
    # Geography: distances and "within" checks in metres.
    location = models.PointField(_("location"), srid=WGS84, geography=True)
    # The subdistrict whose outline covers the station: set by the database on every write
    # (trigger station_inside_subdistrict, migration 0005), never by a form.
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, related_name="stations",
        verbose_name=_("subdistrict"), editable=False,
    )
    # Weekly intervals: [{"day": 0-6 (Monday=0), "open": "HH:MM", "close": "HH:MM"}];
    # a close at or before the open runs past midnight into the next day (see stations.hours).
    opening_hours = models.JSONField(_("opening hours"), default=list, blank=True)
    # Closed the whole day on the public holidays of the calendar data (civicmap.holidays).
    closed_on_holidays = models.BooleanField(_("closed on public holidays"), default=False)
    services = ArrayField(
        models.CharField(max_length=20, choices=Service.choices), default=list, blank=True,
        verbose_name=_("services"),
    )
    # Metres; empty means DEFAULT_COVERAGE_RADIUS_M (or the deployment's setting).
    coverage_radius_m = models.PositiveIntegerField(
        _("coverage radius (m)"), null=True, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        ordering = ["name_zh"]
        constraints = [
            models.CheckConstraint(
                condition=Q(coverage_radius_m__isnull=True)
                | Q(coverage_radius_m__gt=0, coverage_radius_m__lte=MAX_COVERAGE_RADIUS_M),
                name="station_radius_range",
            ),
            models.CheckConstraint(
                condition=Q(services__contained_by=[choice.value for choice in Service]),
                name="station_services_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name_zh

    def service_labels(self) -> list[str]:
        """The services' names in the active language (never the codes), in the station's
        order."""
        return [str(Service(code).label) for code in self.services]


class StationToken(models.Model):
    """The check-in code printed as a QR code at a station (苑苑暖心卡 check-in).

    The QR code holds ``station id.short code`` signed with the site's secret (HMAC, see
    stations.tokens); riders may also type the short code printed under it. Union staff rotate
    it: the old row is revoked (kept, so a rotated-out code is recognised and refused) and a new
    one made. At most one unrevoked token per station, enforced in the database.
    """

    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("station")
    )
    # Unique over all tokens ever issued, revoked ones included, so a code is never reused.
    short_code = models.CharField(_("short code"), max_length=12, unique=True)
    created_at = models.DateTimeField(_("created"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("created by"),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("station check-in code")
        verbose_name_plural = _("station check-in codes")
        ordering = ["station_id", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["station"], condition=Q(revoked_at__isnull=True),
                name="station_token_one_active",
            ),
            models.CheckConstraint(
                condition=Q(short_code__regex=r"^[A-Z0-9]{8,12}$"),
                name="station_token_short_code_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.station_id}:{self.short_code}"


class CheckIn(models.Model):
    """A rider's visit to a station, counted once per rider, station and clock hour."""

    class Method(models.TextChoices):
        QR = "qr", _("QR code")
        SHORT_CODE = "code", _("Short code")

    rider = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="station_checkins",
        verbose_name=_("rider"),
    )
    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, related_name="checkins", verbose_name=_("station")
    )
    token = models.ForeignKey(
        StationToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="checkins",
        verbose_name=_("check-in code"),
    )
    method = models.CharField(_("method"), max_length=4, choices=Method.choices)
    at = models.DateTimeField(_("at"), db_index=True)
    # Whole hours since 1970-01-01 00:00 UTC, computed by the service from ``at``. Beijing is
    # UTC+8 all year, so these are also Beijing's clock hours. The unique constraint below
    # makes "once per rider, station and hour" hold even for two scans at the same instant.
    hour_bucket = models.IntegerField(_("hour"))
    # WGS 84, converted from what the phone sent; geography so that distances are in metres.
    position = models.PointField(_("position"), srid=WGS84, geography=True)
    distance_m = models.FloatField(_("distance (m)"))  # metres to the station, on the spheroid
    accuracy_m = models.FloatField(_("accuracy (m)"), null=True, blank=True)

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rider", "station", "hour_bucket"], name="checkin_once_per_hour",
            ),
            models.CheckConstraint(
                condition=Q(distance_m__gte=0), name="checkin_distance_positive"
            ),
            models.CheckConstraint(
                condition=Q(accuracy_m__isnull=True) | Q(accuracy_m__gte=0),
                name="checkin_accuracy_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(accuracy_m__isnull=True) | Q(accuracy_m__lte=ACCURACY_MAX_M),
                name="checkin_accuracy_at_most_100_km",
            ),
            # (id, station, rider): the target of the benefit redemption's composite foreign key.
            models.UniqueConstraint(fields=["id", "station", "rider"],
                                    name="checkin_id_station_rider"),
        ]
        indexes = [models.Index(fields=["station", "at"], name="checkin_station_at")]


    def __str__(self) -> str:
        return f"{self.rider_id}@{self.station_id} {self.at:%Y-%m-%d %H:%M}"


# --- the 苑苑暖心卡: union membership, its card and the benefits it unlocks ----------------------


class MembershipStatus(models.TextChoices):
    JOINED = "joined", _("Joined")
    CARD_ISSUED = "card_issued", _("Card issued")
    SUSPENDED = "suspended", _("Suspended")


# A card number: "NY" and eight digits as printed on the 苑苑暖心卡 (the district union's series).
CARD_NUMBER_PATTERN = r"^NY[0-9]{8}$"


class UnionMembership(models.Model):
    """A rider's membership of the trade union and their electronic member card (苑苑暖心卡).

    Riders belong to the district union; ``subdistrict`` is the subdistrict union that keeps the
    member's file (its staff issue, suspend and reinstate the card; the district reads all).
    The status changes only through stations.cards (``membership_status_set``), which writes a
    ``MembershipEvent`` for each change: the history.
    """

    rider = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="union_membership",
        verbose_name=_("rider"),
    )
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, related_name="union_memberships",
        verbose_name=_("subdistrict"),
    )
    status = models.CharField(_("status"), max_length=12, choices=MembershipStatus.choices,
                              default=MembershipStatus.JOINED)
    # Set when the card is issued and kept for life (a suspended card keeps its number).
    card_number = models.CharField(_("card number"), max_length=10, unique=True, null=True,
                                   blank=True)
    joined_at = models.DateTimeField(_("joined"))
    card_issued_at = models.DateTimeField(_("card issued"), null=True, blank=True)

    class Meta:
        verbose_name = _("union membership")
        verbose_name_plural = _("union memberships")
        ordering = ["subdistrict_id", "card_number", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in MembershipStatus]),
                name="membership_status_known",
            ),
            # An issued card has a number and an issue date; a number is never without one.
            models.CheckConstraint(
                condition=~Q(status=MembershipStatus.CARD_ISSUED) | Q(card_number__isnull=False),
                name="membership_issued_has_card",
            ),
            models.CheckConstraint(
                condition=Q(card_number__isnull=True, card_issued_at__isnull=True)
                | Q(card_number__isnull=False, card_issued_at__isnull=False),
                name="membership_card_has_issue_date",
            ),
            models.CheckConstraint(
                condition=Q(card_number__isnull=True) | Q(card_number__regex=CARD_NUMBER_PATTERN),
                name="membership_card_number_format",
            ),
            # (id, rider) is the target of the redemption's composite foreign key.
            models.UniqueConstraint(fields=["id", "rider"], name="membership_id_rider"),
        ]

    def __str__(self) -> str:
        return f"{self.rider_id}: {self.card_number or self.status}"


class MembershipEvent(models.Model):
    """One change of a membership's status, with who made it and why (append-only)."""

    membership = models.ForeignKey(
        UnionMembership, on_delete=models.CASCADE, related_name="events",
        verbose_name=_("membership"),
    )
    from_status = models.CharField(_("from"), max_length=12, choices=MembershipStatus.choices,
                                   blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=MembershipStatus.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("membership event")
        verbose_name_plural = _("membership events")
        ordering = ["membership_id", "at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(from_status=models.F("to_status")),
                                   name="membership_event_changes_status"),
        ]


class Benefit(models.Model):
    """A benefit the card unlocks at the stations offering its service (e.g. a tyre repair
    discount where ``tyre_repair`` is offered), set by a subdistrict union for its stations.

    ``member_limit``: uses per member per calendar month (Beijing time), over all of the
    union's stations. A station may also have a monthly cap of its own (BenefitStationLimit).
    """

    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, related_name="benefits",
        verbose_name=_("subdistrict"),
    )
    code = models.SlugField(_("code"), max_length=30)
    name_zh = models.CharField(_("Chinese name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=60)
    service = models.CharField(_("service needed"), max_length=20, choices=Service.choices)
    member_limit = models.PositiveSmallIntegerField(_("uses per member per month"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("benefit")
        verbose_name_plural = _("benefits")
        ordering = ["subdistrict_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["subdistrict", "code"], name="benefit_code_unique"),
            models.CheckConstraint(condition=Q(member_limit__gte=1, member_limit__lte=100),
                                   name="benefit_member_limit_range"),
            models.CheckConstraint(
                condition=Q(service__in=[choice.value for choice in Service]),
                name="benefit_service_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.subdistrict_id})"


class BenefitStationLimit(models.Model):
    """A station's own monthly cap on a benefit (all members together): what the host can give,
    e.g. 20 haircuts a month. 0: not offered at this station. No row: no cap of its own."""

    benefit = models.ForeignKey(Benefit, on_delete=models.CASCADE, related_name="station_limits",
                                verbose_name=_("benefit"))
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="benefit_limits",
                                verbose_name=_("station"))
    monthly_limit = models.PositiveSmallIntegerField(_("uses per month at this station"))

    class Meta:
        verbose_name = _("station limit of a benefit")
        verbose_name_plural = _("station limits of benefits")
        constraints = [
            models.UniqueConstraint(fields=["benefit", "station"],
                                    name="benefit_station_limit_once"),
            models.CheckConstraint(condition=Q(monthly_limit__lte=10_000),
                                   name="benefit_station_limit_range"),
        ]


class BenefitRedemption(models.Model):
    """A benefit used at a check-in: which benefit, by which member, where and when.

    Written with its check-in in one transaction (stations.services.checkin_create). Composite
    foreign keys (migration 0007) make the stored station and rider those of the check-in and
    the membership the rider's own; at most one benefit per check-in.
    """

    checkin = models.OneToOneField(CheckIn, on_delete=models.CASCADE, related_name="redemption",
                                   verbose_name=_("check-in"))
    benefit = models.ForeignKey(Benefit, on_delete=models.PROTECT, related_name="redemptions",
                                verbose_name=_("benefit"))
    membership = models.ForeignKey(UnionMembership, on_delete=models.CASCADE,
                                   related_name="redemptions", verbose_name=_("member"))
    rider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="+", verbose_name=_("rider"))
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="redemptions",
                                verbose_name=_("station"))
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("benefit redemption")
        verbose_name_plural = _("benefit redemptions")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["membership", "benefit", "at"], name="redemption_member_at"),
            models.Index(fields=["station", "benefit", "at"], name="redemption_station_at"),
        ]

    def __str__(self) -> str:
        return f"{self.benefit_id}@{self.station_id} {self.at:%Y-%m-%d}"
