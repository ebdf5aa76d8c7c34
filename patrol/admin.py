"""Admin for departments, teams and tasks."""

from django.contrib import admin

from patrol.models import Department, Task, VolunteerTeam


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en"]
    filter_horizontal = ["liaisons"]


@admin.register(VolunteerTeam)
class VolunteerTeamAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "team_type", "leader"]
    list_filter = ["team_type"]
    filter_horizontal = ["members", "communities"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "case", "assignee_kind", "team", "department", "status",
                    "response_due", "resolution_due"]
    list_filter = ["status", "assignee_kind", "team", "department"]
    raw_id_fields = ["case", "assignee", "handed_in_by", "proof_photo"]
