"""Production settings: secrets required from the environment, HTTPS enforced.

`manage.py check --deploy --fail-level WARNING` passes with these (tests/civicmap/
test_deploy_settings.py). Served over HTTPS only: plain HTTP is redirected, browsers are told
to use HTTPS for HSTS_SECONDS, and cookies never travel over plain HTTP.
"""

from civicmap.env import env_bool, env_int, env_str
from civicmap.settings.base import *  # noqa: F403
from civicmap.settings.base import TRUSTED_PROXY_COUNT

SECRET_KEY = env_str("DJANGO_SECRET_KEY")  # required, whatever DJANGO_DEBUG says
DEBUG = False
# X-Forwarded-Proto says "https" only when our own proxy wrote it: with no trusted proxy a
# client could send it over plain HTTP and be taken for a secure request.
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
# HSTS: one year by default (what check --deploy and the preload list expect); start lower
# (e.g. 3600) on a first deployment, since browsers remember it for this long.
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
