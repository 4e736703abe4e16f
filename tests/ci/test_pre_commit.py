"""The repository's own `.pre-commit-config.yaml` runs clean on a clone of it, and catches drift.

A git clone of this repository into a temporary folder (what is committed, nothing built) gets the
tests' `.venv` linked in, since the hooks run the tools `make setup` pinned there, and the clone's
own package on PYTHONPATH, so the drift checks run its code. `pre-commit run --all-files` must pass
every hook; then a fixture, a schema and the OpenAPI document are broken and each check must fail.
No hook is installed from anywhere: they are all `repo: local`, `language: system`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
CONFIG = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
HOOK_IDS = [hook["id"] for repo in CONFIG["repos"] for hook in repo["hooks"]]
# mypy comes with the `types` work ([tool.mypy], a pinned mypy); until it is in .venv the hook is
# skipped by name, and pre-commit must say so.
SKIPPED = [] if (VENV / "bin" / "mypy").exists() else ["mypy"]


def _clone(destination: Path) -> Path:
    clone = ["git", "clone", "-q", str(REPO_ROOT), str(destination)]
    subprocess.run(clone, check=True, timeout=120)
    (destination / ".venv").symlink_to(VENV)
    return destination


def _pre_commit(clone: Path, home: Path) -> tuple[int, dict[str, str], str]:
    """Run every hook on every file; return the exit code, each hook's verdict, the output."""
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "PRE_COMMIT_COLOR": "never",
        "PYTHONPATH": str(clone / "design"),
        "SKIP": ",".join(SKIPPED),
    }
    result = subprocess.run(
        [str(VENV / "bin" / "pre-commit"), "run", "--all-files"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = result.stdout + result.stderr
    names = {hook["name"]: hook["id"] for repo in CONFIG["repos"] for hook in repo["hooks"]}
    verdicts = {}
    for line in output.splitlines():
        found = re.match(r"^(.+?)\.{3,}(?:\(no files to check\))?(Passed|Failed|Skipped)$", line)
        if found and found[1] in names:
            verdicts[names[found[1]]] = found[2]
    return result.returncode, verdicts, output


def test_the_config_s_hooks_are_local_and_install_nothing():
    assert [repo["repo"] for repo in CONFIG["repos"]] == ["local"]
    for repo in CONFIG["repos"]:
        for hook in repo["hooks"]:
            assert hook["language"] == "system", hook["id"]
            assert hook["entry"].split()[0] in {".venv/bin/ruff", ".venv/bin/mypy",
                ".venv/bin/orders", ".venv/bin/python", "bash"}, hook["id"]  # fmt: skip
    assert {"ruff-check", "ruff-format", "mypy", "orders-validate-fixtures"} <= set(HOOK_IDS)
    assert {"schemas-drift", "openapi-drift", "asyncapi-drift"} <= set(HOOK_IDS)


@pytest.mark.slow
def test_every_hook_passes_on_a_clean_clone_and_the_checks_fail_on_drift(tmp_path):
    clone = _clone(tmp_path / "clone")
    code, verdicts, output = _pre_commit(clone, tmp_path / "pre-commit-home")
    assert code == 0, output
    expected = {hook: "Skipped" if hook in SKIPPED else "Passed" for hook in HOOK_IDS}
    assert verdicts == expected, output

    fixture = clone / "schemas" / "fixtures" / "valid" / "order-paid.v1.json"
    fixture.write_text(fixture.read_text("utf-8").replace('"currency"', '"kurrency"'), "utf-8")
    schema = clone / "schemas" / "order-paid.v1.schema.json"
    schema.write_text(schema.read_text("utf-8").replace('"description"', '"Description"', 1))
    openapi = clone / "docs" / "design" / "openapi.json"
    openapi.write_text(openapi.read_text("utf-8").replace('"title"', '"Title"', 1), "utf-8")
    asyncapi = clone / "docs" / "design" / "asyncapi.json"
    asyncapi.write_text(asyncapi.read_text("utf-8").replace('"partitions": 3', '"partitions": 4'))
    code, verdicts, output = _pre_commit(clone, tmp_path / "pre-commit-home")
    assert code == 1, output
    for hook in ("orders-validate-fixtures", "schemas-drift", "openapi-drift", "asyncapi-drift"):
        assert verdicts[hook] == "Failed", output
    assert "differs: schemas/order-paid.v1.schema.json" in output
    assert "order-paid.v1.json" in output
    assert re.search(r'^-\s*"Title"', output, re.MULTILINE), output
