"""The type checker runs strict over the whole design, and each ignore it is told says why."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# `# type: ignore[code]` then, on the same line, a comment giving the reason.
EXPLAINED = re.compile(r"# type: ignore\[[a-z-]+(, [a-z-]+)*\]  # \S")


def test_mypy_is_strict_over_design():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mypy = config["tool"]["mypy"]
    assert mypy["strict"] is True
    assert mypy["files"] == ["design"]
    for override in mypy.get("overrides", []):  # named modules only, never a wildcard for all
        assert "*" not in override["module"]


def test_every_type_ignore_names_its_error_code_and_says_why():
    unexplained = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in sorted((REPO_ROOT / "design").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "type: ignore" in line and not EXPLAINED.search(line)
    ]
    assert unexplained == []
