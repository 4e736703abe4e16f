"""The CI page's examples run: the sessions print what they show, the hook and the action work.

The published pre-commit hook runs for real (`pre-commit try-repo` against this checkout); the
action's shell steps run locally on fixtures, as GitHub's runner would run them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from marked_blocks import marked_blocks

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "docs" / "design" / "validate-in-ci.md"
FIXTURES = REPO_ROOT / "schemas" / "fixtures"
BIN = Path(sys.executable).parent
ACTION = yaml.safe_load((REPO_ROOT / "action.yml").read_text(encoding="utf-8"))
HOOKS = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
BAD_LINE = (
    "events/late.json: event 8c1f2a3b-4d5e-4f60-9a7b-000000000003: "
    "/occurred_at: '2026-10-14T18:05:09+02:00' does not match the pattern ^"
)


def block(kind: str):
    (found,) = [b for b in marked_blocks(PAGE) if b.kind == kind]
    return found


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path, f"{name} is not installed in {BIN}"
    return path


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool(command[0]), *command[1:]], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_page_marks_its_sessions_the_two_entries_the_action_and_a_hook_config():
    assert sorted(b.kind for b in marked_blocks(PAGE)) == [
        "action-inputs",
        "action-step",
        "github-actions",
        "pre-commit",
        "pre-commit-hook",
        "session",
        "session",
    ]


def test_the_page_leads_with_the_pre_commit_entry_and_the_action_step():
    first_two = [b.kind for b in marked_blocks(PAGE)][:2]
    assert first_two == ["pre-commit-hook", "action-step"]
    assert block("pre-commit-hook").line < PAGE.read_text("utf-8").index("\n## ")


def test_the_sessions_shown_are_what_orders_prints():
    sessions = [b for b in marked_blocks(PAGE) if b.kind == "session"]
    for session_block in sessions:
        session = session_block.text.splitlines()
        commands = [i for i, line in enumerate(session) if line.startswith("$ ")]
        assert commands, f"no command in the session at line {session_block.line}"
        for start, end in zip(commands, [*commands[1:], len(session)], strict=True):
            argv = shlex.split(session[start][2:])
            assert argv[0] == "orders"
            result = subprocess.run(
                [tool("orders"), *argv[1:]], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, timeout=120,
            )  # fmt: skip
            assert result.stdout.splitlines() == session[start + 1 : end], session[start]


def _project(tmp_path: Path, *, broken: bool) -> Path:
    events = tmp_path / "events"
    events.mkdir(parents=True)
    for name in ("order-placed.v2.json", "order-paid.v1.json", "order-placed.v1.json"):
        shutil.copy(FIXTURES / "valid" / name, events / name)
    stream = "".join(
        (FIXTURES / "valid" / f"{n}.json").read_text().replace("\n", "").replace("  ", "") + "\n"
        for n in ("order-item-added.v1", "order-shipped.v1")
    )
    (events / "more.jsonl").write_text(stream)
    (tmp_path / "schemas" / "consumer").mkdir(parents=True)
    for schema in ("order-event.schema.json", "consumer/order-event.schema.json"):
        shutil.copy(REPO_ROOT / "schemas" / schema, tmp_path / "schemas" / schema)
    newer = json.loads((FIXTURES / "valid" / "order-paid.v1.json").read_text("utf-8"))
    newer["data"]["sales_channel"] = "web"  # a field added by a newer producer: read tolerantly
    (events / "newer.json").write_text(json.dumps(newer, indent=2), encoding="utf-8")
    if broken:
        shutil.copy(FIXTURES / "invalid" / "timestamp-not-utc.json", events / "late.json")
    return tmp_path


def _checkout_copy(destination: Path) -> Path:
    """The files a clone of this checkout holds, with its uncommitted changes, and nothing built."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (REPO_ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, destination / name)
    return destination


EXPRESSION = re.compile(r"^\$\{\{\s*(github\.action_path|inputs\.[\w-]+)\s*\}\}$")


def _step_env(step: dict, action_path: Path, inputs: dict[str, str]) -> dict[str, str]:
    """The step's `env:`, each `${{ }}` expression evaluated as GitHub would for these inputs."""
    env = {}
    for name, value in step.get("env", {}).items():
        expression = EXPRESSION.match(str(value))
        assert expression, f"{step['name']}: {name} is not one supported expression: {value}"
        key = expression[1]
        env[name] = str(action_path) if key == "github.action_path" else inputs[key[7:]]
    return env


def _run_steps(steps, workspace: Path, runner_temp: Path, action_path: Path, inputs):
    """Run the steps' scripts as GitHub's runner does (`bash -e -o pipefail`); stop at a failure."""
    result = None
    for step in steps:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], f"{step['name']}: an expression inside the script"
        env = {**os.environ, "RUNNER_TEMP": str(runner_temp)}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace, env={**env, **_step_env(step, action_path, inputs)},
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if result.returncode != 0:
            break
    return result


def _reads_inputs(step: dict) -> bool:
    return any("inputs." in str(value) for value in step.get("env", {}).values())


@pytest.fixture(scope="module")
def installed_action(tmp_path_factory):
    """This checkout as the runner holds an action, its install steps run once (from PyPI)."""
    action_path = _checkout_copy(tmp_path_factory.mktemp("action"))
    runner_temp = tmp_path_factory.mktemp("runner-temp")
    steps = ACTION["runs"]["steps"]
    assert ACTION["runs"]["using"] == "composite"
    install = [step for step in steps if not _reads_inputs(step)]
    assert install, "no install step"
    assert steps[: len(install)] == install, "the install steps come first"
    result = _run_steps(install, tmp_path_factory.mktemp("workspace"), runner_temp, action_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    return action_path, runner_temp


def _run_action(installed_action, workspace: Path, given: dict[str, str]):
    action_path, runner_temp = installed_action
    unknown = set(given) - set(ACTION["inputs"])
    assert not unknown, f"not inputs of the action: {unknown}"
    defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    steps = [step for step in ACTION["runs"]["steps"] if _reads_inputs(step)]
    assert steps, "no step reads the inputs"
    return _run_steps(steps, workspace, runner_temp, action_path, {**defaults, **given})


def test_the_page_s_workflow_runs_the_action_step_the_page_leads_with():
    step = yaml.safe_load(block("action-step").text)
    workflow = yaml.safe_load(block("github-actions").text)
    steps = workflow["jobs"]["validate"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"]["persist-credentials"] is False
    assert step == [steps[-1]]
    assert steps[-1]["uses"].split("@")[0].endswith("/order-service-design")


@pytest.mark.slow
def test_the_action_step_validates_a_project_and_marks_the_bad_line(tmp_path, installed_action):
    (step,) = yaml.safe_load(block("action-step").text)
    good = _run_action(installed_action, _project(tmp_path / "good", broken=False), step["with"])
    assert (good.returncode, good.stdout) == (0, ""), good.stderr
    assert good.stderr.endswith("orders: 6 event(s) valid\n")
    bad_project = _project(tmp_path / "bad", broken=True)
    bad = _run_action(installed_action, bad_project, step["with"])
    assert bad.returncode == 1
    (annotation,) = bad.stdout.splitlines()
    location = "::error file=events/late.json,line=7,col=3,title=orders validate::"
    assert annotation.startswith(location + BAD_LINE)
    late = (bad_project / "events" / "late.json").read_text("utf-8").split("\n")
    assert late[6].startswith('  "occurred_at": "2026-10-14T18:05:09+02:00"')


@pytest.mark.slow
def test_the_action_refuses_paths_that_name_nothing(tmp_path, installed_action):
    result = _run_action(installed_action, tmp_path, {"paths": " \n "})
    assert result.returncode == 2
    assert (
        result.stdout == "::error title=orders validate::the paths input names no file or folder\n"
    )


def test_the_action_says_plainly_when_the_runner_s_python_is_too_old(tmp_path):
    old_python = tmp_path / "bin" / "python3"
    old_python.parent.mkdir()
    old_python.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")  # as 3.10 answers the check
    old_python.chmod(0o755)
    (install, *_) = ACTION["runs"]["steps"]
    path = f"{old_python.parent}{os.pathsep}{os.environ['PATH']}"
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", install["run"]],
        cwd=tmp_path, env={**os.environ, "PATH": path, "RUNNER_TEMP": str(tmp_path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout.startswith("::error title=orders validate::orders needs Python 3.11")
    assert not (tmp_path / "orders-validate-venv").exists()


def test_the_action_s_inputs_are_the_ones_the_page_lists_with_their_defaults():
    table = block("action-inputs")
    listed = {row[0].strip("`"): row[1].strip("`") for row in table.rows}
    assert listed == {name: spec["default"] for name, spec in ACTION["inputs"].items()}


@pytest.mark.slow
def test_the_published_hook_passes_valid_events_and_fails_an_invalid_one(tmp_path):
    config = yaml.safe_load(block("pre-commit-hook").text)
    (entry,) = config["repos"]
    assert entry["hooks"] == [{"id": "orders-validate"}]  # nothing else to write
    assert [hook["id"] for hook in HOOKS] == ["orders-validate"]
    project = tmp_path / "project"
    events = project / "events"
    events.mkdir(parents=True)
    shutil.copy(FIXTURES / "valid" / "order-paid.v1.json", events / "paid.json")
    stream = [FIXTURES / "valid" / f"{n}.json" for n in ("order-item-added.v1", "order-shipped.v1")]
    lines = [json.dumps(json.loads(path.read_text("utf-8"))) for path in stream]
    (events / "more.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(FIXTURES / "invalid" / "float-amount.json", events / "bad.json")
    newer = json.loads((FIXTURES / "valid" / "order-paid.v1.json").read_text("utf-8"))
    newer["data"]["sales_channel"] = "web"  # a field added by a newer producer: read tolerantly
    (events / "newer.json").write_text(json.dumps(newer), encoding="utf-8")
    (project / "package.json").write_text('{"name": "not an order event"}\n')
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    identity |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env = {
        **os.environ,
        **identity,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_NO_CONCURRENCY": "1",  # one `orders validate` over all files: one summary
        "PRE_COMMIT_COLOR": "never",
    }
    for git in (["init", "-q"], ["add", "."]):
        subprocess.run(["git", *git], cwd=project, env=env, check=True, timeout=60)
    result = subprocess.run(
        [tool("pre-commit"), "try-repo", str(REPO_ROOT), entry["hooks"][0]["id"], "--all-files"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "- hook id: orders-validate" in output
    problems = [line for line in output.splitlines() if line.startswith("events/")]
    assert problems == [
        "events/bad.json: event 8c1f2a3b-4d5e-4f60-9a7b-000000000003: "
        "/data/amount/amount: 43.5 is not of type 'string'"
    ]
    # paid.json, both lines of more.jsonl, newer.json (its added field read tolerantly, no problem)
    # and bad.json were read; package.json was not given.
    assert "orders: 1 problem(s) in 5 event(s)" in output


def _hook_commands(project: Path) -> dict[str, list[str]]:
    """Each hook's command line over the files it would be given, as pre-commit builds it."""
    config = yaml.safe_load(block("pre-commit").text)
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    commands = {}
    for repo in config["repos"]:
        for hook in repo["hooks"]:
            matched = [f for f in files if re.search(hook["files"], f)]
            entry = hook.get("entry", hook["id"])
            commands[hook["id"]] = [*shlex.split(entry), *hook.get("args", []), *matched]
    return commands


def test_the_check_jsonschema_hook_passes_good_events_and_fails_bad_ones(tmp_path):
    good = _project(tmp_path / "good", broken=False)
    commands = _hook_commands(good)
    assert sorted(commands) == ["check-jsonschema"]
    assert "events/more.jsonl" not in commands["check-jsonschema"]
    for hook, command in commands.items():
        assert run(command, good).returncode == 0, (hook, run(command, good).stdout)
    bad = _project(tmp_path / "bad", broken=True)
    for hook, command in _hook_commands(bad).items():
        result = run(command, bad)
        assert result.returncode == 1, hook
        assert "occurred_at" in result.stdout, (hook, result.stdout)
