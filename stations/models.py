"""Union rest stations (工会驿站) for riders: where they are, when they open, what they offer."""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from civicmap.models import WGS84

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
    """A 工会驿站 hosted in a venue. It must lie inside the subdistrict (a database trigger)."""

    name_zh = models.CharField(_("Chinese name"), max_length=100, unique=True)
    name_en = models.CharField(_("English name"), max_length=100)
    venue_type = models.CharField(_("venue type"), max_length=20, choices=VenueType.choices)
    address_zh = models.CharField(_("address"), max_length=200, blank=True)
    # Geography: distances and "within" checks in metres.
    location = models.PointField(_("location"), srid=WGS84, geography=True)
    # Weekly intervals: [{"day": 0-6 (Monday=0), "open": "HH:MM", "close": "HH:MM"}];
    # a close at or before the open runs past midnight into the next day (see stations.hours).
    opening_hours = models.JSONField(_("opening hours"), default=list, blank=True)
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
