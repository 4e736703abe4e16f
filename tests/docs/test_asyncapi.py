"""The AsyncAPI document: the code's, referring to `schemas/`, accepted by the AsyncAPI parser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from order_service.bus.kafka import PARTITIONS, TOPIC
from order_service.contract.asyncapi import DOCUMENT, generate, main
from order_service.contract.schemas import ANY_EVENT_SCHEMA, schema_file_name
from order_service.model.events import EVENT_MODELS

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = REPO_ROOT / "design" / "asyncapi" / "validate.cjs"
NODE_MODULES = REPO_ROOT / ".cache" / "asyncapi" / "node_modules"


def _refs(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.append(value)
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def test_the_committed_asyncapi_document_is_the_one_the_code_generates(capsys):
    assert main(["--out", str(REPO_ROOT / DOCUMENT), "--check"]) == 0, (
        f"{capsys.readouterr().out}the code changed: run `make asyncapi` and review the diff"
    )


def test_the_check_fails_on_a_document_that_differs(tmp_path, capsys):
    stale = tmp_path / "asyncapi.json"
    stale.write_text((REPO_ROOT / DOCUMENT).read_text("utf-8").replace('"3.0.0"', '"3.0.1"', 1))
    assert main(["--out", str(stale), "--check"]) == 1
    assert "differs" in capsys.readouterr().out


def test_one_message_any_order_event_whose_payload_is_the_any_event_schema():
    document = generate()
    channel = document["channels"]["orderEvents"]
    assert channel["address"] == TOPIC
    assert channel["bindings"]["kafka"]["partitions"] == PARTITIONS
    assert list(channel["messages"]) == list(document["components"]["messages"]) == ["OrderEvent"]
    message = document["components"]["messages"]["OrderEvent"]
    assert message["payload"] == {"$ref": f"../../schemas/{ANY_EVENT_SCHEMA}"}
    for ref in _refs(document, []):  # nothing is fetched: every reference is in the repository
        if not ref.startswith("#"):
            assert (REPO_ROOT / DOCUMENT).parent.joinpath(ref).resolve().is_file(), ref


def test_no_event_type_is_named_so_a_new_one_leaves_the_document_unchanged():
    text = (REPO_ROOT / DOCUMENT).read_text("utf-8")
    named = [event_type for event_type, _ in EVENT_MODELS if event_type in text]
    assert named == [], f"{named}: a new event type would change docs/design/asyncapi.json"


def _validate(document: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None or not NODE_MODULES.is_dir():
        reason = "the AsyncAPI parser is not installed: run `make setup` (it needs node and npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    environ = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    return subprocess.run(
        ["node", str(VALIDATOR), str(document)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


@pytest.mark.slow  # the parser takes seconds per document
def test_the_asyncapi_parser_accepts_the_committed_document():
    result = _validate(REPO_ROOT / DOCUMENT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid AsyncAPI 3.0.0" in result.stdout
    assert "error:" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (('"partitions": 3', '"partitions": 0'), '"partitions" property must be >= 1'),
        (('"action": "send"', '"action": "publish"'), '"action" property must be equal'),
        (("order-event.schema.json", "order-evnt.schema.json"), "no such file"),
    ],
)
def test_the_asyncapi_parser_refuses_a_broken_document(tmp_path, breakage, expected):
    """A copy beside a copy of `schemas/`, broken in one place: the check must fail on it."""
    shutil.copytree(REPO_ROOT / "schemas", tmp_path / "schemas")
    broken = tmp_path / DOCUMENT
    broken.parent.mkdir(parents=True)
    text = (REPO_ROOT / DOCUMENT).read_text("utf-8")
    assert breakage[0] in text
    broken.write_text(text.replace(breakage[0], breakage[1], 1), "utf-8")
    result = _validate(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stdout


@pytest.mark.slow
def test_the_asyncapi_parser_checks_the_referenced_schemas_too(tmp_path):
    shutil.copytree(REPO_ROOT / "schemas", tmp_path / "schemas")
    (tmp_path / DOCUMENT).parent.mkdir(parents=True)
    shutil.copy(REPO_ROOT / DOCUMENT, tmp_path / DOCUMENT)
    schema = tmp_path / "schemas" / schema_file_name("OrderPaid", 1)
    document = json.loads(schema.read_text("utf-8"))
    document["properties"]["order_id"]["type"] = "text"  # not a JSON type
    schema.write_text(json.dumps(document), "utf-8")
    result = _validate(tmp_path / DOCUMENT)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "/properties/order_id/type" in result.stdout
