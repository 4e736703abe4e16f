"""The playground's runtime comes from the npm registry at set-up, pinned, and never into git.

Pyodide and ajv are fetched by `make setup` into docs/assets/vendor/ (git-ignored); without npm,
make says what to install and fetches nothing. Run with an empty PATH, so nothing is installed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")


def _variable(name: str) -> str:
    match = re.search(rf"^{name} := (\S+)$", MAKEFILE, re.M)
    assert match, f"{name} is not set in the Makefile"
    return match[1]


@pytest.mark.parametrize(
    "stamp",
    [
        "pyodide/.version-{PYODIDE_VERSION}",
        "ajv/.version-{AJV_DIST_VERSION}-{AJV_FORMATS_VERSION}",
    ],
    ids=["pyodide", "ajv"],
)
def test_without_npm_make_says_so_and_fetches_nothing(tmp_path, stamp):
    versions = {
        name: _variable(name)
        for name in ("PYODIDE_VERSION", "AJV_DIST_VERSION", "AJV_FORMATS_VERSION")
    }
    vendor = tmp_path / "vendor"
    (tmp_path / "bin").mkdir()
    result = subprocess.run(
        [
            "/usr/bin/make",
            "--no-print-directory",
            f"VENDOR={vendor}",
            f"{vendor}/{stamp.format(**versions)}",
        ],
        cwd=REPO_ROOT,
        env={"PATH": str(tmp_path / "bin")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "npm is missing" in result.stderr
    assert not vendor.exists()


def test_the_versions_are_pinned_and_setup_fetches_both():
    for name in ("PYODIDE_VERSION", "AJV_DIST_VERSION", "AJV_FORMATS_VERSION"):
        assert re.fullmatch(r"\d+\.\d+\.\d+", _variable(name)), name
    setup = re.search(r"^setup: (.*?)  ##", MAKEFILE, re.M)
    assert setup and {"$(PYODIDE_STAMP)", "$(AJV_STAMP)"} <= set(setup[1].split())


def test_the_fetched_runtime_is_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "docs/assets/vendor/pyodide/pyodide.asm.wasm"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.returncode == 0, "docs/assets/vendor/ must be in .gitignore"
