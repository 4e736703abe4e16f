"""`orders validate --format github|json`: each problem on the line and column that hold it.

Run on the invalid fixtures kept beside the schemas, as files, as a JSON array and as JSON Lines;
the default text output is the one tests/unit/test_cli.py pins.
"""

from __future__ import annotations

import doctest
import json
import re
from pathlib import Path

import pytest
from cli_runner import run
from order_service.contract import locations, reports
from order_service.contract.locations import locate, positions
from order_service.entrypoints.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE

FIXTURES = Path(__file__).resolve().parents[2] / "schemas" / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.json"))
VALID = sorted((FIXTURES / "valid").glob("*.json"))
COMMAND = re.compile(r"^::error (?P<properties>[^:]*)::(?P<message>.*)$")


def annotations(out: str) -> list[dict[str, str]]:
    """Each `::error` line as its properties plus `message`; any other line fails the test."""
    found = []
    for line in out.splitlines():
        command = COMMAND.match(line)
        assert command, f"not a workflow command: {line!r}"
        properties = dict(pair.split("=", 1) for pair in command["properties"].split(","))
        found.append({**properties, "message": command["message"]})
    return found


def holds(text_line: str, column: int, pointer: str) -> bool:
    """The line holds the pointer's member (`"name":` at the column) or, for an item, a value."""
    last = pointer.rpartition("/")[2]
    at = text_line[column - 1 :]
    return at.startswith(json.dumps(last) + ":") if not last.isdigit() else bool(at.strip())


@pytest.mark.parametrize("module", [locations, reports], ids=lambda m: m.__name__)
def test_the_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def pointers(value: object, here: str = "") -> set[str]:
    """Every JSON pointer in a parsed document, worked out independently of the scanner."""
    found = {here}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= pointers(item, f"{here}/{key.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found |= pointers(item, f"{here}/{index}")
    return found


@pytest.mark.parametrize("path", [*VALID, *INVALID], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_member_of_a_fixture_is_located_on_the_line_that_holds_it(path):
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    found = positions(text)
    assert set(found) == pointers(json.loads(text))
    for pointer in sorted(set(found) - {""}):
        line, column = locate(text, pointer)
        assert holds(lines[line - 1], column, pointer), (pointer, line)


def test_a_missing_member_is_placed_on_its_nearest_present_parent():
    text = '{\n  "data": {\n    "lines": [\n      {"sku": "A"}\n    ]\n  }\n}\n'
    assert locate(text, "/data/lines/0/quantity") == (4, 7)
    assert locate(text, "/data/currency") == (2, 3)
    assert locate(text, "/order_id") == (1, 1)


def test_a_byte_order_mark_is_not_counted_as_a_column():
    assert locate('\ufeff[{"a": 1},\n {"b": 2}]', "/0/a") == (1, 3)
    assert locate('\ufeff[{"a": 1},\n {"b": 2}]', "/1/b") == (2, 3)


def test_a_text_that_is_not_json_has_no_location():
    assert locate('{"a": 1,, }', "/a") is None
    assert locate('{"a": 1} {"b": 2}', "/a") is None


def test_github_format_marks_each_invalid_fixture_on_the_line_of_the_field(tmp_path):
    status, out, err = run("validate", "--format", "github", *INVALID)
    assert status == EXIT_INVALID
    found = annotations(out)
    assert {Path(a["file"]).name for a in found} == {path.name for path in INVALID}
    assert err == f"orders: {len(found)} problem(s) in {len(INVALID)} event(s)\n"
    for annotation in found:
        lines = Path(annotation["file"]).read_text("utf-8").split("\n")
        line, column = int(annotation["line"]), int(annotation["col"])
        pointer = annotation["message"].split(": ")[2]
        if annotation["message"].endswith("required property is missing"):
            pointer = pointer.rpartition("/")[0]  # shown on the object that lacks it
        assert annotation["title"] == "orders validate"
        if pointer:
            assert holds(lines[line - 1], column, pointer), annotation
        else:
            assert (line, column) == (1, 1), annotation


def test_github_format_keeps_the_text_formats_message_whole():
    path = FIXTURES / "invalid" / "float-amount.json"
    _, text, _ = run("validate", path)
    _, github, _ = run("validate", "--format", "github", path)
    assert github == (
        f"::error file={path.as_posix()},line=11,col=7,title=orders validate::{text.rstrip()}\n"
    )
    assert '"amount": 43.5' in path.read_text("utf-8").split("\n")[10]


def test_github_format_places_events_of_a_json_array_and_of_json_lines(tmp_path):
    paid = json.loads((FIXTURES / "valid" / "order-paid.v1.json").read_text("utf-8"))
    bad = json.loads((FIXTURES / "invalid" / "personal-data.json").read_text("utf-8"))
    array = tmp_path / "events.json"
    array.write_text(json.dumps([paid, bad], indent=2), encoding="utf-8")
    stream = tmp_path / "events.jsonl"
    stream.write_text(f"{json.dumps(paid)}\n\n{json.dumps(bad)}\n", encoding="utf-8")
    status, out, _ = run("validate", "--format", "github", array, stream)
    assert status == EXIT_INVALID
    in_array, in_stream = annotations(out)
    array_line = array.read_text("utf-8").split("\n")[int(in_array["line"]) - 1]
    assert array_line.strip() == '"customer_name": "Ada Lovelace"'
    assert (in_stream["line"], in_stream["file"]) == ("3", stream.as_posix())
    stream_line = stream.read_text("utf-8").split("\n")[2]
    assert stream_line[int(in_stream["col"]) - 1 :].startswith('"customer_name": ')


def test_github_format_escapes_what_would_end_a_property_or_the_message(tmp_path):
    folder = tmp_path / "a,b:c"
    folder.mkdir()
    path = folder / "100%.json"
    path.write_text('{"event_id": "x%y"}\n', encoding="utf-8")
    _, out, _ = run("validate", "--format", "github", path)
    assert out
    for line in out.splitlines():
        properties, message = COMMAND.match(line).groups()  # one "::" per command, no newline
        assert "a%2Cb%3Ac/100%25.json" in properties
        assert "x%25y" in message


def test_a_file_that_is_not_json_is_marked_on_the_line_where_it_breaks(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "event_id": "x",\n  "version": 1,,\n}\n', encoding="utf-8")
    status, out, err = run("validate", "--format", "github", path)
    assert status == EXIT_INVALID
    (annotation,) = annotations(out)
    assert (annotation["line"], annotation["col"]) == ("3", "1")
    assert "malformed JSON" in annotation["message"]
    assert "Traceback" not in out + err


def test_standard_input_is_annotated_without_a_file():
    text = (FIXTURES / "invalid" / "float-amount.json").read_text("utf-8")
    status, out, _ = run("validate", "--format", "github", "-", stdin=text)
    assert status == EXIT_INVALID
    (annotation,) = annotations(out)
    assert "file" not in annotation
    assert annotation["message"].startswith("-: event ")


def test_json_format_is_one_document_with_each_problem_located():
    path = FIXTURES / "invalid" / "timestamp-not-utc.json"
    status, out, _ = run("validate", "--format", "json", path, FIXTURES / "valid")
    assert status == EXIT_INVALID
    report = json.loads(out)
    assert (report["valid"], report["events"]) == (False, 1 + len(VALID))
    (problem,) = report["problems"]
    assert problem["file"] == str(path)
    assert (problem["event"], problem["pointer"]) == (
        "8c1f2a3b-4d5e-4f60-9a7b-000000000003",
        "/occurred_at",
    )
    assert "does not match the pattern" in problem["message"]
    line = path.read_text("utf-8").split("\n")[problem["line"] - 1]
    assert line[problem["column"] - 1 :].startswith('"occurred_at": "2026-10-14T18:05:09+02:00"')


def test_json_format_says_valid_when_every_event_is():
    status, out, err = run("validate", "--format", "json", FIXTURES / "valid")
    assert status == EXIT_OK
    assert json.loads(out) == {"valid": True, "events": len(VALID), "problems": []}
    assert err == f"orders: {len(VALID)} event(s) valid\n"


def test_the_default_format_is_text_and_an_unknown_format_is_a_usage_error(capsys):
    assert run("validate", *INVALID) == run("validate", "--format", "text", *INVALID)
    status, _, _ = run("validate", "--format", "xml", *INVALID)
    assert status == EXIT_USAGE
    message = capsys.readouterr().err.splitlines()[-1]  # argparse quotes the choices since 3.12
    assert "argument --format: invalid choice: 'xml'" in message
    assert all(name in message for name in ("github", "json", "text"))
