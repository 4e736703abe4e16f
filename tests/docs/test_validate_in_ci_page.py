"""The CI page's examples run: the session prints what it shows, the CI step and both hooks work."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from marked_blocks import marked_blocks

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGE = REPO_ROOT / "docs" / "design" / "validate-in-ci.md"
FIXTURES = REPO_ROOT / "schemas" / "fixtures"
BIN = Path(sys.executable).parent


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


def test_the_page_marks_one_session_one_workflow_and_one_hook_config():
    assert sorted(b.kind for b in marked_blocks(PAGE)) == [
        "github-actions",
        "pre-commit",
        "session",
    ]


def test_the_session_shown_is_what_orders_prints():
    session = block("session").text.splitlines()
    commands = [i for i, line in enumerate(session) if line.startswith("$ ")]
    assert len(commands) == 2
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
    (tmp_path / "schemas").mkdir()
    shutil.copy(REPO_ROOT / "schemas" / "order-event.schema.json", tmp_path / "schemas")
    if broken:
        shutil.copy(FIXTURES / "invalid" / "timestamp-not-utc.json", events / "late.json")
    return tmp_path


def test_the_ci_step_validates_a_project_and_fails_on_a_bad_event(tmp_path):
    workflow = yaml.safe_load(block("github-actions").text)
    steps = workflow["jobs"]["validate"]["steps"]
    assert steps[0]["with"]["persist-credentials"] is False
    assert any("pip install" in step.get("run", "") for step in steps)
    (command,) = [s["run"] for s in steps if s.get("run", "").startswith("orders validate")]
    good = run(shlex.split(command), _project(tmp_path / "good", broken=False))
    assert (good.returncode, good.stderr) == (0, "orders: 5 event(s) valid\n")
    bad = run(shlex.split(command), _project(tmp_path / "bad", broken=True))
    assert bad.returncode == 1
    assert bad.stdout.startswith(
        "events/late.json: event 8c1f2a3b-4d5e-4f60-9a7b-000000000003: "
        "/occurred_at: '2026-10-14T18:05:09+02:00' does not match the pattern ^"
    )


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


def test_both_pre_commit_hooks_pass_good_events_and_fail_bad_ones(tmp_path):
    good = _project(tmp_path / "good", broken=False)
    commands = _hook_commands(good)
    assert sorted(commands) == ["check-jsonschema", "orders-validate"]
    assert "events/more.jsonl" not in commands["check-jsonschema"]
    assert "events/more.jsonl" in commands["orders-validate"]
    for hook, command in commands.items():
        assert run(command, good).returncode == 0, (hook, run(command, good).stdout)
    bad = _project(tmp_path / "bad", broken=True)
    for hook, command in _hook_commands(bad).items():
        result = run(command, bad)
        assert result.returncode == 1, hook
        assert "occurred_at" in result.stdout, (hook, result.stdout)
