"""``manage.py demo_tokens``: every demo user's API token with role and team, as JSON."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from fixtures.seed import DEMO_API_CLIENT
from issues.models import ApiClient


class Command(BaseCommand):
    help = "Print the demo users' API tokens (role, team, department) and the Open311 api_key."

    def handle(self, *args, **options) -> None:
        users = (
            get_user_model().objects.filter(auth_token__isnull=False)
            .select_related("auth_token")
            .prefetch_related("groups", "teams", "led_teams", "liaison_for")
            .order_by("username")
        )
        client = ApiClient.objects.filter(name=DEMO_API_CLIENT).first()
        payload = {
            "users": [self._user_entry(user) for user in users],
            "open311": {"api_client": DEMO_API_CLIENT,
                        "api_key": client.api_key if client else None},
        }
        self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))

    @staticmethod
    def _user_entry(user) -> dict:
        groups = sorted(group.name for group in user.groups.all())
        teams = sorted({team.code for team in [*user.teams.all(), *user.led_teams.all()]})
        return {
            "username": user.username,
            "display_name": user.first_name,
            "role": "admin" if user.is_superuser else (groups[0] if groups else ""),
            "teams": teams,
            "departments": sorted(d.code for d in user.liaison_for.all()),
            "token": user.auth_token.key,
        }
