"""The shared geography: subdistrict, community grids (社区网格) and unit grids (单元网格).

Every geometry is stored in WGS 84 (SRID 4326). Areas and distances in metres are computed in
EPSG:4548 (CGCS2000 / 3-degree Gauss-Kruger CM 117E) or on geography.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

WGS84 = 4326


class Subdistrict(models.Model):
    """A subdistrict (街道) of the district. The service area is every subdistrict loaded: a
    report belongs to the one whose grids contain it; outside all of them it is refused. Each
    runs its own cases (its office, union staff, teams, routing and stations)."""

    # 6-digit district code + 3-digit street code (DB11/T 2157-2023).
    code = models.CharField(_("code"), max_length=9, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)
    boundary = models.PolygonField(_("boundary"), srid=WGS84)

    class Meta:
        verbose_name = _("subdistrict")
        verbose_name_plural = _("subdistricts")
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[0-9]{9}$"), name="subdistrict_code_9_digits"
            ),
        ]

    def __str__(self) -> str:
        return self.name_zh


class CommunityGrid(models.Model):
    """A community grid (社区网格). Community grids tile their subdistrict exactly."""

    # 9-digit subdistrict code + 3-digit community code.
    code = models.CharField(_("code"), max_length=12, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, related_name="communities",
        verbose_name=_("subdistrict"),
    )
    boundary = models.PolygonField(_("boundary"), srid=WGS84)

    class Meta:
        verbose_name = _("community grid")
        verbose_name_plural = _("community grids")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[0-9]{12}$"), name="community_code_12_digits"
            ),
        ]

    def __str__(self) -> str:
        return self.name_zh


class UnitGrid(models.Model):
    """A unit grid (万米单元网格) of about 10,000 m², inside one community grid.

    ``grid_id`` is the 15-digit ID of DB11/T 2157-2023: district (6) + street (3) +
    community (3) + sequence (3), numbered west to east, then north to south, in each community.
    """

    grid_id = models.CharField(_("grid ID"), max_length=15, unique=True)
    community = models.ForeignKey(
        CommunityGrid, on_delete=models.PROTECT, related_name="unit_grids",
        verbose_name=_("community grid"),
    )
    boundary = models.PolygonField(_("boundary"), srid=WGS84)

    class Meta:
        verbose_name = _("unit grid")
        verbose_name_plural = _("unit grids")
        ordering = ["grid_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(grid_id__regex=r"^[0-9]{15}$"), name="unit_grid_id_15_digits"
            ),
        ]

    def __str__(self) -> str:
        return self.grid_id


class Membership(models.Model):
    """The subdistrict a staff account works for: its office and union staff see and act on
    that subdistrict's cases, tasks, stations and statistics only. No subdistrict: the whole
    district (the district role, or a department that serves every subdistrict). Riders have
    none: they belong to the district union and report anywhere."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership",
        verbose_name=_("user"),
    )
    subdistrict = models.ForeignKey(
        Subdistrict, on_delete=models.PROTECT, null=True, blank=True, related_name="members",
        verbose_name=_("subdistrict"), help_text=_("Empty: the whole district."),
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.subdistrict or '—'}"
