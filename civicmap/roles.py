"""The roles of the platform as Django groups (created with their model permissions by
migration civicmap.0002_role_groups).

Object-level rules (a volunteer sees only their team's tasks) live in the apps' selectors and
permission classes; these groups say what kind of user someone is and what the admin lets them do.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OFFICE_STAFF = "office_staff"
    UNION_STAFF = "union_staff"
    TEAM_LEADER = "team_leader"
    VOLUNTEER = "volunteer"
    DEPARTMENT_LIAISON = "department_liaison"
    RIDER = "rider"

