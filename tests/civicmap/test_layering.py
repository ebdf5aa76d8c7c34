"""The apps' declared layering holds (pyproject.toml, [tool.importlinter]; docs/DECISIONS.md,
"Layering of the apps"): an import that runs the wrong way fails the test suite, not only
``make lint``."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_no_app_imports_a_layer_above_it():
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
