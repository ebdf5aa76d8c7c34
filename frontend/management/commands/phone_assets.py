"""Write the phone pages' generated assets (icon sprite, app icons): see frontend.phone_assets."""

from django.core.management.base import BaseCommand

from frontend.phone_assets import phone_assets_write


class Command(BaseCommand):
    help = "Build frontend/static/frontend/phone/icons.svg and the PWA's PNG icons."

    def handle(self, *args, **options) -> None:
        for path in phone_assets_write():
            self.stdout.write(f"{path} ({path.stat().st_size} bytes)")
