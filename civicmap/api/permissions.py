"""DRF permission classes for the roles (object-level rules live in the selectors)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from civicmap.roles import Role, user_has_role, user_is_rider


class IsRider(BasePermission):
    message = _("Only riders can do this.")

    def has_permission(self, request, view) -> bool:
        return user_is_rider(request.user)


class IsOfficeStaff(BasePermission):
    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, Role.OFFICE_STAFF)


def role_permission(*roles: Role) -> type[BasePermission]:
    """A permission class admitting users in any of ``roles``."""

    class HasAnyRole(BasePermission):
        def has_permission(self, request, view) -> bool:
            return any(user_has_role(request.user, role) for role in roles)

    HasAnyRole.__name__ = "HasRole_" + "_".join(role.value for role in roles)
    return HasAnyRole
