"""The workflows and the action are valid, pinned, least-privilege, and clean under two linters.

check-jsonschema validates them against its vendored GitHub workflow schema, and zizmor audits them
offline (its online audits need a GitHub token and the network; the offline ones include unpinned
actions, excessive permissions, credential persistence and template injection). Each linter is also
shown a workflow with a mistake, so a clean result means something.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ACTION = REPO_ROOT / "action.yml"  # the composite action consumers `uses:` (see validate-in-ci.md)
BIN = Path(sys.executable).parent

# One workflow: test on every pull request and push, publish the tested site from main.
EXPECTED_WORKFLOWS = ["ci.yml"]

FLAWED_WORKFLOW = """\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.head_commit.message }}"
"""


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT
    )


FLAWED_ACTION = """\
name: flawed
description: splices its input into the script
inputs:
  paths:
    description: what to validate
runs:
  using: composite
  steps:
    - shell: bash
      run: orders validate ${{ inputs.paths }}
"""


def _check_schema(
    *files: Path, schema: str = "github-workflows"
) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "check-jsonschema", "--builtin-schema", f"vendor.{schema}", *files)


def _zizmor(target: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "zizmor", "--offline", "--no-progress", "--color", "never", target)


@pytest.fixture(scope="module")
def workflow_files() -> list[Path]:
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert [f.name for f in files] == EXPECTED_WORKFLOWS
    return files


@pytest.fixture(scope="module")
def ci() -> dict:
    # PyYAML reads the bare key `on` as True (YAML 1.1); keep the workflow's own spelling.
    workflow = yaml.safe_load((WORKFLOWS / "ci.yml").read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True)
    return workflow


def test_every_workflow_matches_the_github_workflow_schema(workflow_files):
    result = _check_schema(*workflow_files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_workflow_with_a_misspelt_key(tmp_path):
    flawed = tmp_path / "flawed.yml"
    flawed.write_text(FLAWED_WORKFLOW.replace("runs-on:", "run-on:"), encoding="utf-8")
    result = _check_schema(flawed)
    assert result.returncode != 0
    assert "runs-on" in result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_workflows_offline(workflow_files):
    result = _zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_offline_flags_an_unpinned_action_and_template_injection(tmp_path):
    flawed = tmp_path / ".github" / "workflows" / "flawed.yml"
    flawed.parent.mkdir(parents=True)
    flawed.write_text(FLAWED_WORKFLOW, encoding="utf-8")
    result = _zizmor(flawed)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout
    assert "template-injection" in result.stdout


def test_the_action_matches_the_github_action_schema():
    result = _check_schema(ACTION, schema="github-actions")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_an_action_of_an_unknown_kind(tmp_path):
    flawed = tmp_path / "action.yml"
    flawed.write_text(FLAWED_ACTION.replace("using: composite", "using: compose"), "utf-8")
    result = _check_schema(flawed, schema="github-actions")
    assert result.returncode != 0
    assert "compose" in result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_action_offline():
    result = _zizmor(ACTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_offline_flags_an_input_spliced_into_an_action_s_script(tmp_path):
    flawed = tmp_path / "action.yml"
    flawed.write_text(FLAWED_ACTION, encoding="utf-8")
    result = _zizmor(flawed)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


def test_the_action_installs_this_package_from_its_own_checkout_with_the_pinned_versions():
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    installs = [step for step in action["runs"]["steps"] if "pip install" in step.get("run", "")]
    assert len(installs) == 1
    (install,) = installs
    assert install["env"] == {"ACTION_PATH": "${{ github.action_path }}"}
    assert '-c "$ACTION_PATH/requirements.lock" "$ACTION_PATH"' in install["run"]


def test_ci_runs_make_test_on_pull_requests_and_pushes(ci):
    assert {"pull_request", "push"} <= set(ci["on"])
    steps = ci["jobs"]["test"]["steps"]
    assert [step["run"] for step in steps if "run" in step][-1] == "make test"
    # Debian's chromium: the browser tests fail rather than skip in CI (CI=true).
    assert any(
        "apt-get install" in step.get("run", "") and "chromium" in step["run"] for step in steps
    )
    assert any(step.get("uses", "").startswith("actions/setup-node@") for step in steps)


def test_the_site_is_published_from_main_only_after_the_tests_pass(ci):
    site, deploy = ci["jobs"]["site"], ci["jobs"]["deploy"]
    assert site["needs"] == "test"
    assert "github.ref == 'refs/heads/main'" in site["if"]
    assert "github.event_name == 'push'" in site["if"]
    assert "make docs" in [step.get("run") for step in site["steps"]]
    upload = [step for step in site["steps"] if "upload-pages-artifact@" in step.get("uses", "")]
    assert [step["with"]["path"] for step in upload] == ["site"]
    assert deploy["needs"] == "site"
    assert deploy["environment"]["name"] == "github-pages"
    assert any("deploy-pages@" in step.get("uses", "") for step in deploy["steps"])


def test_permissions_are_least_privilege(ci):
    assert ci["permissions"] == {}
    granted = {name: job.get("permissions") for name, job in ci["jobs"].items()}
    assert granted == {
        "test": {"contents": "read"},
        "site": {"contents": "read"},
        "deploy": {"pages": "write", "id-token": "write"},
    }


def test_every_action_is_pinned_to_a_full_commit_sha(workflow_files):
    uses = [
        line.split("uses:", 1)[1].strip()
        for path in [*workflow_files, ACTION]
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*(- )?uses:", line)
    ]
    assert len(uses) >= 5
    unpinned = [
        ref for ref in uses if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d[\w.]*", ref)
    ]
    assert unpinned == []
