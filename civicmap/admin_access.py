"""What the admin lets each role do beyond Django's model permissions (civicmap.roles).

Three rules, each a mixin put in front of an app's ModelAdmin:

- ``SuperuserOnlyAdminMixin``: accounts, groups and Open311 clients are the superuser's alone,
  whatever permission a group is given (civicmap.roles.SUPERUSER_ONLY_MODELS).
- ``ServiceWrittenAdminMixin``: rows written only by the apps' services (cases, reports, tasks,
  events, points, check-ins, notifications) are shown, never added, changed or deleted here,
  the superuser included: the lifecycle's checks and its audit trail must not be bypassed.
- ``RowScopedAdminMixin``: the admin shows a user only the rows of ``get_queryset``; a row
  outside them answers 404 on its change, delete and history pages, as if it did not exist
  (Django would redirect to the index with "doesn't exist", telling the same but less plainly).
  ``SubdistrictScopedAdminMixin`` is the one scope of those rows by place: the rows of the
  subdistricts the user works for (``civicmap.scopes``; the superuser and the district role
  every one).
"""

from __future__ import annotations

from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.http import Http404

from civicmap.scopes import in_scope_q


class SuperuserOnlyAdminMixin:
    """The model's admin answers the superuser only (the module is hidden from the rest)."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser


class ServiceWrittenAdminMixin:
    """Shown to whoever may view the model; nobody adds, changes or deletes a row here."""

    def has_add_permission(self, request, *args) -> bool:  # (request) or, inline, (request, obj)
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RowScopedAdminMixin:
    """A row outside the user's ``get_queryset`` is not found (404), not redirected; a user
    without any permission on the model is refused (403) before that, as everywhere."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and (self.has_view_or_change_permission(request)
                            or self.has_delete_permission(request)):
            raise Http404
        return obj


class SubdistrictScopedAdminMixin(RowScopedAdminMixin):
    """Rows whose subdistrict (the path ``subdistrict_field``) the user works for; another
    subdistrict's row is not found (404)."""

    subdistrict_field = "subdistrict"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(
            in_scope_q(request.user, field=self.subdistrict_field))


class SuperuserOnlyUserAdmin(SuperuserOnlyAdminMixin, UserAdmin):
    """Django's user admin; the times of the last login and of joining are the system's record,
    shown read-only (Django's split date and time inputs for them carry no labels either)."""

    readonly_fields = ("last_login", "date_joined")


class SuperuserOnlyGroupAdmin(SuperuserOnlyAdminMixin, GroupAdmin):
    pass
