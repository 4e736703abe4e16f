"""`orders validate` streams a JSON Lines file: same verdicts and messages, problems as found.

The fast check (the event model, validating in Rust) must agree with the schema validator on
every payload; a JSON Lines file read line by line must give exactly what the same text read
whole gives; and a problem must be printed before the rest of the file has even been written.
"""

from __future__ import annotations

import copy
import io
import json
import os
import threading
from pathlib import Path

import pytest
from order_service.contract.validation import event_problems, validate_event
from order_service.entrypoints.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "schemas" / "fixtures"
FIXTURE_FILES = sorted(FIXTURES.rglob("*.json"))
ODD = [None, True, 0, 1, 2.0, "", "x", "12.5", "2026-11-02T09:15:00+01:00", [], {}]


def _broken_everywhere(payload, path=()):
    """`payload` itself, then a copy with each value in turn replaced by each odd value."""
    yield payload
    node = payload
    for key in path:
        node = node[key]
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in list(children):
        for odd in ODD:
            broken = copy.deepcopy(payload)
            target = broken
            for step in path:
                target = target[step]
            target[key] = odd
            yield broken
        if isinstance(child, dict | list) and child:
            yield from list(_broken_everywhere(payload, (*path, key)))[1:]


@pytest.mark.slow
def test_the_fast_check_reports_what_the_schema_reports_on_every_fixture_broken_anywhere():
    checked = valid = 0
    assert len(FIXTURE_FILES) >= 10, "the fixtures were not found"
    for path in FIXTURE_FILES:
        for payload in _broken_everywhere(json.loads(path.read_text("utf-8"))):
            expected = validate_event(payload)
            assert event_problems(payload) == expected, (path.name, payload)
            checked += 1
            valid += not expected
    assert valid >= len(list((FIXTURES / "valid").glob("*.json")))  # the fast path was taken
    assert checked - valid > 1_000  # and the slow one, many times


def _run(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main([str(a) for a in argv], out, err)
    return status, out.getvalue(), err.getvalue()


MIXED_LINES = [
    "\ufeff" + (FIXTURES / "valid" / "order-placed.v2.json").read_text("utf-8").replace("\n", ""),
    "",
    '{"event_type": "OrderShipped", "schema_version": 1, "order_id": 1001}\r',
    "{not json",
    "   ",
    (FIXTURES / "valid" / "order-placed.v2.json").read_text("utf-8").replace("\n", " "),
    json.dumps(
        {
            **json.loads((FIXTURES / "valid" / "order-placed.v2.json").read_text("utf-8")),
            "version": 2,
        }
    ),
    '{"event_id": "x\u2028y", "note": "a line separator inside a string is not a line end"}',
    "[1, 2]",
]


def test_a_json_lines_file_streamed_gives_what_the_same_text_read_whole_gives(tmp_path):
    text = "\n".join(MIXED_LINES) + "\n"
    streamed = tmp_path / "events.jsonl"
    whole = tmp_path / "events.json"  # not *.jsonl: read whole, then split into lines
    streamed.write_text(text, encoding="utf-8")
    whole.write_text(text, encoding="utf-8")
    status, out, err = _run("validate", streamed)
    assert (status, out, err) == tuple(
        part.replace(str(whole), str(streamed)) if isinstance(part, str) else part
        for part in _run("validate", whole)
    )
    assert status == 1
    assert "already the id of another event" in out  # the reused id was found while streaming
    assert f"{streamed}:4: malformed JSON" in out


def test_a_file_that_is_not_utf8_is_refused_with_the_same_message_either_way(tmp_path):
    body = b'{"a": 1}\n{"b": "\xff"}\n'
    (tmp_path / "bad.jsonl").write_bytes(body)
    (tmp_path / "bad.json").write_bytes(body)
    streamed = _run("validate", tmp_path / "bad.jsonl")
    whole = _run("validate", tmp_path / "bad.json")
    assert streamed[0] == whole[0] == 2
    assert streamed[2] == whole[2].replace("bad.json", "bad.jsonl")
    assert "byte 0xff in position 16" in streamed[2]  # counted from the file's start


class _Watched(io.StringIO):
    """An output that tells when its first line arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.first_line = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "\n" in text:
            self.first_line.set()
        return written


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_a_problem_is_printed_before_the_rest_of_the_file_is_written(tmp_path):
    pipe = tmp_path / "events.jsonl"
    os.mkfifo(pipe)
    out, err = _Watched(), io.StringIO()
    seen_early: list[bool] = []

    def writer() -> None:
        with open(pipe, "w", encoding="utf-8") as stream:
            stream.write("{not json\n")
            stream.flush()
            # The rest is written only after the first problem was printed (or 10 s passed).
            seen_early.append(out.first_line.wait(timeout=10))
            stream.write('{"still": "not an event"}\n')

    thread = threading.Thread(target=writer)
    thread.start()
    status = main(["validate", str(pipe)], out, err)
    thread.join()
    assert seen_early == [True], "nothing was printed until the whole file had been read"
    assert status == 1
    assert out.getvalue().startswith(f"{pipe}:1: malformed JSON")
    assert f"{pipe}:2: event 1: " in out.getvalue()
