"""Admin for departments, teams and tasks.

What each role sees here is decided in civicmap.roles. Tasks, notifications and webhook
deliveries are written by the lifecycle and its hooks only: shown here, never edited.
"""

from django.contrib import admin
from django.db.models import Q

from civicmap.admin_access import (
    RowScopedAdminMixin,
    ServiceWrittenAdminMixin,
    SubdistrictScopedAdminMixin,
)
from civicmap.admin_widgets import OfflineGISModelAdmin
from civicmap.scopes import in_scope_q
from patrol.models import Department, Task, VolunteerTeam
from patrol.selectors import tasks_for_user


@admin.register(Department)
class DepartmentAdmin(RowScopedAdminMixin, admin.ModelAdmin):
    """The departments serving the user's subdistricts: the district's and their own."""

    list_display = ["code", "name_zh", "name_en", "subdistrict"]
    filter_horizontal = ["liaisons"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(
            Q(subdistrict__isnull=True) | in_scope_q(request.user))


@admin.register(VolunteerTeam)
class VolunteerTeamAdmin(SubdistrictScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name_zh", "team_type", "leader", "subdistrict"]
    list_filter = ["team_type"]
    filter_horizontal = ["members", "communities"]


@admin.register(Task)
class TaskAdmin(ServiceWrittenAdminMixin, RowScopedAdminMixin, OfflineGISModelAdmin):
    """A task moves only through patrol.services.lifecycle; each user sees the tasks the
    lifecycle's own rule gives them (patrol.selectors.tasks_for_user: every task of their
    subdistricts for office staff, the union's of their subdistricts for union staff, a team's
    or a department's for its people)."""

    list_display = ["id", "case", "assignee_kind", "team", "department", "status",
                    "response_due", "resolution_due"]
    list_filter = ["status", "assignee_kind", "team", "department"]
    raw_id_fields = ["case", "assignee", "handed_in_by", "proof_photo"]
    # The workflow's fields (status, progress, deadlines, the hand-in), read-only for everyone.
    readonly_fields = ["location", "status", "offered_at", "response_due", "resolution_due",
                       "accepted_at", "handed_in_at", "handed_in_by", "finished_at", "note",
                       "proof_photo", "decline_reason", "response_alerted_at",
                       "resolution_alerted_at"]

    def get_queryset(self, request):
        if request.user.is_superuser:
            return super().get_queryset(request)
        ordering = self.get_ordering(request) or ()
        return tasks_for_user(user=request.user).order_by(*ordering)


# --- notifications and the outgoing webhook ---------------------------------------------------

from django.utils.translation import gettext_lazy as _  # noqa: E402
from django.utils.translation import ngettext  # noqa: E402

from patrol.models import Notification, WebhookDelivery  # noqa: E402
from patrol.webhooks import webhook_deliveries_retry  # noqa: E402


@admin.register(Notification)
class NotificationAdmin(ServiceWrittenAdminMixin, admin.ModelAdmin):
    list_display = ["id", "kind", "recipient", "case", "task", "created_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["recipient__username", "key"]
    raw_id_fields = ["recipient", "case", "task"]
    date_hierarchy = "created_at"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Deliveries to the webhook: failed ones (given up) are listed here and can be retried."""

    list_display = ["delivery_id", "kind", "recipient", "status", "attempts", "next_attempt_at",
                    "give_up_at", "last_error", "created_at", "delivered_at"]
    list_filter = ["status", "notification__kind"]
    search_fields = ["delivery_id", "notification__recipient__username"]
    readonly_fields = ["delivery_id", "notification", "body", "status", "attempts",
                       "next_attempt_at", "give_up_at", "last_error", "created_at",
                       "delivered_at"]
    date_hierarchy = "created_at"
    actions = ["retry_now"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("notification__recipient")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the record of what was sent: retried, never removed

    @admin.display(description=_("kind"))
    def kind(self, delivery: WebhookDelivery) -> str:
        return delivery.notification.kind

    @admin.display(description=_("recipient"))
    def recipient(self, delivery: WebhookDelivery) -> str:
        return delivery.notification.recipient.get_username()

    @admin.action(description=_("Retry now (with a fresh give-up window)"),
                  permissions=["change"])
    def retry_now(self, request, queryset) -> None:
        count = webhook_deliveries_retry(delivery_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, ngettext("%(count)d delivery will be retried.",
                                            "%(count)d deliveries will be retried.",
                                            count) % {"count": count})
