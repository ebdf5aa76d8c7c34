"""Production settings pass Django's deployment checks, and no secret is made up.

Each check runs ``manage.py`` in a subprocess with a clean environment (no DJANGO_SECRET_KEY
from the test settings), as a deployment would. ``secret_key_ensure`` (scripts/lib.sh, used by
scripts/run.sh and setup.sh) is run as a bash function in a temporary directory.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys

from django.conf import settings

ROOT = settings.BASE_DIR
PRODUCTION = "civicmap.settings.production"
BASE = "civicmap.settings.base"


def _env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("DJANGO_") and key not in {"TRUSTED_PROXY_COUNT"}}
    # The checkout's own var/secret_key (made by `make setup`) must not stand in for a missing key.
    env["DJANGO_SECRET_KEY_FILE"] = os.devnull + ".absent"
    env.update(values)
    return env


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=_env(**env),
                          capture_output=True, text=True, timeout=120)


def _settings(module: str, *names: str, **env: str) -> dict[str, str]:
    """The settings ``names`` as ``module`` makes them in a process of their own started with
    ``env``: the repr of each."""
    code = ("import django, json, sys; from django.conf import settings; django.setup(); "
            "print(json.dumps({name: repr(getattr(settings, name, None)) "
            "for name in sys.argv[1:]}))")
    done = subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT,
                          env=_env(DJANGO_SETTINGS_MODULE=module, **env),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_production_settings_pass_check_deploy_at_warning_level():
    done = _manage("check", "--deploy", "--fail-level", "WARNING",
                   DJANGO_SETTINGS_MODULE=PRODUCTION,
                   DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_production_sends_hsts_and_redirects_to_https():
    """Three processes, each starting Django with the production settings, as a deployment
    reads them."""
    key = secrets.token_urlsafe(50)
    values = _settings(PRODUCTION, "SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT",
                       "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER",
                       DJANGO_SECRET_KEY=key)
    assert values == {"SECURE_HSTS_SECONDS": "31536000", "SECURE_SSL_REDIRECT": "True",
                      "SESSION_COOKIE_SECURE": "True", "CSRF_COOKIE_SECURE": "True",
                      # no trusted proxy: a client's X-Forwarded-Proto is not believed
                      "SECURE_PROXY_SSL_HEADER": "None"}
    short = _settings(PRODUCTION, "SECURE_HSTS_SECONDS", DJANGO_SECRET_KEY=key,
                      DJANGO_HSTS_SECONDS="3600")
    assert short == {"SECURE_HSTS_SECONDS": "3600"}
    proxied = _settings(PRODUCTION, "SECURE_PROXY_SSL_HEADER", DJANGO_SECRET_KEY=key,
                        TRUSTED_PROXY_COUNT="1")
    assert proxied == {"SECURE_PROXY_SSL_HEADER": "('HTTP_X_FORWARDED_PROTO', 'https')"}


def test_no_fallback_secret_outside_debug():
    for module in (BASE, PRODUCTION):
        done = _manage("check", DJANGO_SETTINGS_MODULE=module)
        assert done.returncode != 0, module
        assert "ImproperlyConfigured" in done.stderr and "DJANGO_SECRET_KEY" in done.stderr
    # Production wants it even with DEBUG asked for.
    assert _manage("check", DJANGO_SETTINGS_MODULE=PRODUCTION, DJANGO_DEBUG="1").returncode != 0
    # A development server (DEBUG) may run on a throwaway key.
    assert _manage("check", DJANGO_SETTINGS_MODULE=BASE, DJANGO_DEBUG="1").returncode == 0


def test_hand_run_commands_read_the_kept_secret(tmp_path):
    kept = tmp_path / "secret_key"
    kept.write_text(secrets.token_urlsafe(50) + "\n")
    assert _settings(BASE, "SECRET_KEY", DJANGO_SECRET_KEY_FILE=str(kept)) == {
        "SECRET_KEY": repr(kept.read_text().strip())}


def _ensure(directory, **env: str) -> subprocess.CompletedProcess:
    script = ('source scripts/lib.sh && secret_key_ensure "$1" && '
              'printf %s "$DJANGO_SECRET_KEY" >"$2"')
    return subprocess.run(["bash", "-c", script, "bash", str(directory),
                           str(directory / "seen")], cwd=ROOT, env=_env(**env),
                          capture_output=True, text=True, timeout=60)


def test_the_local_secret_is_made_once_kept_private_and_never_printed(tmp_path):
    var = tmp_path / "var"
    first = _ensure(var)
    assert first.returncode == 0, first.stderr
    kept = (var / "secret_key").read_text().strip()
    assert len(kept) >= 50
    assert stat.S_IMODE((var / "secret_key").stat().st_mode) == 0o600
    assert (var / "seen").read_text() == kept  # exported to what runs next
    assert kept not in first.stdout + first.stderr
    second = _ensure(var)
    assert second.returncode == 0
    assert (var / "secret_key").read_text().strip() == kept  # reused, not made again
    assert (var / "seen").read_text() == kept
    assert kept not in second.stdout + second.stderr
    assert sorted(path.name for path in var.iterdir()) == ["secret_key", "seen"]
    # A key given by the environment wins and leaves the file alone.
    given = _ensure(var, DJANGO_SECRET_KEY="from-the-environment")
    assert (var / "seen").read_text() == "from-the-environment"
    assert (var / "secret_key").read_text().strip() == kept and given.returncode == 0


def test_run_sh_sets_the_secret_before_anything_runs_django():
    script = (ROOT / "scripts" / "run.sh").read_text()
    main = script[script.index("main() {"):]
    assert main.index('secret_key_ensure "$VAR_DIR"') < main.index("scripts/setup.sh")
    assert "insecure" not in script and "SECRET_KEY=" not in script
