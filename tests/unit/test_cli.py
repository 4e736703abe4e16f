"""`orders validate` and `orders derive`, through main(argv); once as the installed script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run
from order_service.entrypoints.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE, main
from order_service.model import history
from order_service.model.decide import CommandRejected
from order_service.model.snapshots import REDUCER_VERSION

FIXTURES = Path(__file__).resolve().parents[2] / "schemas" / "fixtures"
VALID = FIXTURES / "valid"
INVALID = FIXTURES / "invalid"
STREAM = [
    VALID / f"{name}.json"
    for name in (
        "order-placed.v1",
        "order-item-added.v1",
        "order-paid.v1",
        "order-shipped.v1",
        "order-delivered.v1",
    )
]


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_validate_accepts_valid_files_and_says_how_many_events():
    files = sorted(VALID.glob("*.json"))
    status, out, err = run("validate", *files)
    assert (status, out) == (EXIT_OK, "")
    assert files and err == f"orders: {len(files)} event(s) valid\n"


def test_validate_prints_path_event_id_pointer_and_reason_per_problem():
    status, out, _ = run(
        "validate", INVALID / "float-amount.json", INVALID / "missing-order-id.json"
    )
    assert status == EXIT_INVALID
    assert out.splitlines() == [
        f"{INVALID / 'float-amount.json'}: event 8c1f2a3b-4d5e-4f60-9a7b-000000000003: "
        "/data/amount/amount: 43.5 is not of type 'string'",
        f"{INVALID / 'missing-order-id.json'}: event 8c1f2a3b-4d5e-4f60-9a7b-000000000003: "
        "/order_id: required property is missing",
    ]


def test_validate_names_an_event_without_an_id_by_its_index_in_a_json_array(tmp_path):
    events = [load(VALID / "order-paid.v1.json"), load(INVALID / "float-amount.json")]
    del events[1]["event_id"]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events), encoding="utf-8")
    status, out, _ = run("validate", path)
    assert status == EXIT_INVALID
    assert sorted(out.splitlines()) == [
        f"{path}: event 1: /data/amount/amount: 43.5 is not of type 'string'",
        f"{path}: event 1: /event_id: required property is missing",
    ]


def test_validate_reads_json_lines_and_numbers_problems_by_line(tmp_path):
    lines = [
        json.dumps(load(VALID / "order-paid.v1.json")),
        "",
        "{not json",
        json.dumps(load(INVALID / "personal-data.json")),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, out, err = run("validate", path)
    assert status == EXIT_INVALID
    assert out.splitlines() == [
        f"{path}:3: malformed JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{path}:4: event 8c1f2a3b-4d5e-4f60-9a7b-000000000011: /data/customer_name: "
        "property not allowed",
    ]
    assert "Traceback" not in out + err


def test_validate_reports_malformed_json_with_its_line_and_no_traceback(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "event_id": "x",\n  "version": 1,,\n}\n', encoding="utf-8")
    status, out, err = run("validate", path)
    assert status == EXIT_INVALID
    reason = "malformed JSON: Expecting property name enclosed in double quotes (column 16)"
    assert out == f"{path}:3: {reason}\n"
    assert "Traceback" not in err


@pytest.mark.parametrize(("name", "text"), [("empty.jsonl", "\n"), ("empty.json", " [ ]\n")])
def test_validate_calls_an_empty_file_or_an_empty_array_invalid(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert run("validate", path)[:2] == (EXIT_INVALID, f"{path}: empty: no events\n")


@pytest.mark.parametrize("make", ["missing", "directory", "not utf-8"])
def test_validate_exits_2_with_a_clear_message_on_an_unreadable_path(tmp_path, make):
    path = tmp_path / "events.json"
    if make == "directory":
        path.mkdir()
    elif make == "not utf-8":
        path.write_bytes(b'{"event_id": "\xff"}')
    status, out, err = run("validate", VALID / "order-paid.v1.json", path)
    assert (status, out) == (EXIT_USAGE, "")
    assert err.startswith(f"orders: cannot read {path}: ")
    assert "Traceback" not in err


def test_validate_reads_standard_input():
    status, _, err = run("validate", "-", stdin=(VALID / "order-paid.v1.json").read_text())
    assert (status, err) == (EXIT_OK, "orders: 1 event(s) valid\n")


@pytest.mark.parametrize(
    "argv",
    [[], ["teleport"], ["validate"], ["derive", "x.json", "--upto", "0"]],
    ids=["no command", "unknown command", "no path", "version zero"],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == EXIT_USAGE
    assert "usage: orders" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert main(["validate", "--help"]) == EXIT_OK
    assert "path[:line]: event <id or index>: <JSON pointer>: <reason>" in capsys.readouterr().out


def test_derive_prints_the_state_folded_from_the_files_in_order():
    status, out, _ = run("derive", *STREAM)
    assert status == EXIT_OK
    state = json.loads(out)
    assert (state["status"], state["version"], state["total"]) == (
        "delivered",
        5,
        {"amount": "43.50", "currency": "EUR"},
    )


def test_derive_upto_a_version_gives_the_state_as_it_was_then():
    _, out, _ = run("derive", *STREAM, "--upto", 3)
    assert (json.loads(out)["status"], json.loads(out)["version"]) == ("paid", 3)


def test_derive_from_a_snapshot_gives_the_same_state_as_from_the_start(tmp_path):
    _, snapshot, _ = run("derive", *STREAM[:3], "--as-snapshot")
    assert json.loads(snapshot)["reducer_version"] == REDUCER_VERSION
    path = tmp_path / "snapshot.json"
    path.write_text(snapshot, encoding="utf-8")
    assert run("derive", *STREAM[3:], "--snapshot", path) == run("derive", *STREAM)


def test_derive_discards_a_snapshot_of_another_reducer_version_and_says_so(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {"order_id": "2002", "version": 3, "reducer_version": 0, "state": {"status": "paid"}}
        ),
        encoding="utf-8",
    )
    status, out, err = run("derive", *STREAM, "--snapshot", path)
    assert status == EXIT_OK
    assert out == run("derive", *STREAM)[1]
    assert "made by reducer version 0" in err and "discarded, replaying" in err


def test_derive_refuses_a_snapshot_file_that_is_not_a_snapshot(tmp_path):
    path = tmp_path / "snapshot.json"
    path.write_text('{"order_id": "2002"}', encoding="utf-8")
    status, out, err = run("derive", *STREAM, "--snapshot", path)
    assert (status, out) == (EXIT_INVALID, "")
    assert err == f"orders: snapshot {path}: snapshot lacks version, reducer_version, state\n"


def test_derive_refuses_upto_before_the_snapshot(tmp_path):
    _, snapshot, _ = run("derive", *STREAM[:3], "--as-snapshot")
    path = tmp_path / "snapshot.json"
    path.write_text(snapshot, encoding="utf-8")
    status, _, err = run("derive", *STREAM, "--snapshot", path, "--upto", 2)
    assert status == EXIT_USAGE
    assert "--upto 2 is before the snapshot's version 3" in err


def test_derive_exits_1_with_the_folds_message_on_a_broken_stream():
    status, out, err = run("derive", STREAM[0], STREAM[3])
    assert (status, out) == (EXIT_INVALID, "")
    assert err == (
        "orders: order 2002, event 8c1f2a3b-4d5e-4f60-9a7b-000000000004 (version 4): "
        "expected version 2, got 4 (a gap, duplicate or reordering)\n"
    )


def _history_breaking_two_rules(tmp_path):
    placed, added, _, shipped, delivered = (load(path) for path in STREAM)
    shipped_unpaid = {**shipped, "version": 3}
    wrong_parcel = {**delivered, "version": 4, "data": {"tracking_number": "OTHER-PARCEL"}}
    path = tmp_path / "history.jsonl"
    events = (placed, added, shipped_unpaid, wrong_parcel)
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")
    return path, shipped, delivered


def test_derive_folds_a_history_that_breaks_rules_and_lints_it_line_by_line(tmp_path):
    path, shipped, delivered = _history_breaking_two_rules(tmp_path)
    status, out, err = run("derive", path)
    assert status == EXIT_OK
    state = json.loads(out)  # the facts as stored: shipped unpaid, then delivered
    assert (state["status"], state["version"], state["payment_id"]) == ("delivered", 4, None)
    assert err.splitlines() == [
        f"{path}:3: event {shipped['event_id']}: /event_type: "
        "only a paid order ships; the order is placed",
        f"{path}:4: event {delivered['event_id']}: /data/tracking_number: "
        f"parcel OTHER-PARCEL is not the one shipped ({shipped['data']['tracking_number']})",
        "orders: history lint: 2 event(s) today's rules would refuse as commands "
        "(the state is derived from the events as stored)",
    ]


def test_derive_lint_exits_1_on_a_lint_finding_and_still_prints_the_state(tmp_path):
    path, _, _ = _history_breaking_two_rules(tmp_path)
    plain = run("derive", path)
    status, out, err = run("derive", "--lint", path)
    assert status == EXIT_INVALID
    assert (out, err) == plain[1:]
    assert run("derive", "--lint", *STREAM) == run("derive", *STREAM)
    assert run("derive", "--lint", *STREAM)[0] == EXIT_OK


def test_a_rule_tightened_tomorrow_never_stops_derive_from_loading_a_stored_order(monkeypatch):
    # Today's stream is legal; tomorrow every command is refused. derive gives the same state.
    status, before, err = run("derive", *STREAM)
    assert (status, err) == (EXIT_OK, "")

    def tightened(state, command, **kwargs):
        raise CommandRejected(command.order_id, command.type, "no longer allowed")

    monkeypatch.setattr(history, "decide", tightened)
    status, after, err = run("derive", *STREAM)
    assert (status, after) == (EXIT_OK, before)
    assert err.splitlines()[-1].startswith(f"orders: history lint: {len(STREAM)} event(s)")


def test_derive_derives_nothing_from_an_invalid_payload():
    status, out, err = run("derive", STREAM[0], INVALID / "float-amount.json")
    assert (status, out) == (EXIT_INVALID, "")
    assert "/data/amount/amount: 43.5 is not of type 'string'" in err
    assert err.endswith("orders: nothing derived from invalid payloads\n")


@pytest.mark.slow
def test_the_installed_orders_script_validates_and_derives(tmp_path):
    script = shutil.which("orders", path=str(Path(sys.executable).parent))
    assert script, "the orders console script is not installed in this environment"
    valid = subprocess.run([script, "validate", *map(str, STREAM)], capture_output=True, text=True)
    assert (valid.returncode, valid.stderr) == (0, "orders: 5 event(s) valid\n")
    invalid = subprocess.run(
        [script, "validate", str(INVALID / "no-lines.json")], capture_output=True, text=True
    )
    assert invalid.returncode == 1
    assert invalid.stdout.endswith("/data/lines: [] should be non-empty\n")
    derived = subprocess.run([script, "derive", *map(str, STREAM)], capture_output=True, text=True)
    assert json.loads(derived.stdout)["status"] == "delivered"


def test_validate_reads_every_json_and_json_lines_file_under_a_directory(tmp_path):
    (tmp_path / "2026" / "11").mkdir(parents=True)
    (tmp_path / "2026" / "11" / "paid.json").write_text((VALID / "order-paid.v1.json").read_text())
    (tmp_path / "notes.txt").write_text("not an event")
    broken = tmp_path / "stream.jsonl"
    broken.write_text(json.dumps(load(INVALID / "no-lines.json")) + "\n")
    status, out, err = run("validate", tmp_path)
    assert status == EXIT_INVALID
    event = "event 8c1f2a3b-4d5e-4f60-9a7b-000000000011"
    assert out == f"{broken}:1: {event}: /data/lines: [] should be non-empty\n"
    assert err == "orders: 1 problem(s) in 2 event(s)\n"


def test_validate_refuses_a_directory_without_event_files(tmp_path):
    status, _, err = run("validate", tmp_path)
    assert status == EXIT_USAGE
    assert err == f"orders: cannot read {tmp_path}: a directory without *.json or *.jsonl files\n"


@pytest.mark.slow
@pytest.mark.parametrize("command", ["validate", "derive"])
def test_an_output_closed_by_its_reader_ends_quietly_without_a_traceback(command):
    # `orders derive ... | head -1`: here the reader is gone before orders writes a byte.
    script = shutil.which("orders", path=str(Path(sys.executable).parent))
    assert script, "the orders console script is not installed in this environment"
    read_end, write_end = os.pipe()
    os.close(read_end)
    path = INVALID / "float-amount.json" if command == "validate" else STREAM[0]
    try:
        finished = subprocess.run(
            [script, command, str(path)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert finished.returncode == EXIT_USAGE
    assert "Traceback" not in finished.stderr
    assert "BrokenPipeError" not in finished.stderr


@pytest.mark.parametrize("name", ["deep.json", "deep.jsonl"])
def test_json_nested_too_deeply_is_reported_as_malformed_not_a_traceback(tmp_path, name):
    path = tmp_path / name
    path.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    status, out, _ = run("validate", path)
    where = f"{path}:1" if name.endswith(".jsonl") else f"{path}"
    assert (status, out) == (EXIT_INVALID, f"{where}: malformed JSON: nested too deeply to parse\n")


def test_derive_reports_a_snapshot_nested_too_deeply_as_malformed(tmp_path):
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    status, out, err = run("derive", STREAM[0], "--snapshot", snapshot)
    assert (status, out) == (EXIT_INVALID, "")
    assert err == f"orders: snapshot {snapshot}: malformed JSON: nested too deeply to parse\n"


def _jsonl(path: Path, events: list[dict]) -> Path:
    # ensure_ascii=False: the characters are written raw, as another producer may write them.
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), "utf-8")
    return path


@pytest.mark.parametrize("separator", ["\u2028", "\u0085", "\u2029", "\x1c"])
def test_json_lines_are_split_on_newlines_only_not_on_characters_legal_inside_a_string(
    tmp_path, separator
):
    events = [load(path) for path in STREAM[:3]]
    events[1]["data"]["line"]["sku"] = f"TEA{separator}TIN"  # legal JSON, not a valid SKU
    path = _jsonl(tmp_path / "three.jsonl", events)
    status, out, err = run("validate", path)
    assert status == EXIT_INVALID
    assert [line.split(": ")[0] for line in out.splitlines()] == [f"{path}:2"]
    assert "/data/line/sku" in out
    assert err == "orders: 1 problem(s) in 3 event(s)\n"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    for name, text in (
        ("bom.json", VALID.joinpath("order-paid.v1.json").read_text("utf-8")),
        ("bom.jsonl", json.dumps(load(VALID / "order-paid.v1.json")) + "\n"),
    ):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
        assert run("validate", path) == (EXIT_OK, "", "orders: 1 event(s) valid\n")


def test_two_different_events_with_one_event_id_are_reported_at_the_second(tmp_path):
    placed, added = load(STREAM[0]), load(STREAM[1])
    twin = {**added, "event_id": placed["event_id"]}
    path = _jsonl(tmp_path / "twins.jsonl", [placed, twin])
    status, out, _ = run("validate", path)
    assert status == EXIT_INVALID
    assert out == (
        f"{path}:2: event {placed['event_id']}: /event_id: already the id of another event "
        f"({path}:1); an event id names one event\n"
    )
    assert run("derive", path)[0] == EXIT_INVALID


def test_the_same_event_twice_is_not_a_reused_id(tmp_path):
    placed = load(STREAM[0])
    path = _jsonl(tmp_path / "again.jsonl", [placed, placed])
    assert run("validate", path) == (EXIT_OK, "", "orders: 2 event(s) valid\n")


@pytest.mark.parametrize("fmt", ["text", "github", "json"])
@pytest.mark.parametrize("name", ["events.jsonl", "events.json", "events"])
def test_validate_reads_a_named_pipe_once_in_every_format(tmp_path, fmt, name):
    # Two different events under one id, and a field problem: before, the id check and the
    # github and json formats opened the path again, and waited for a writer for ever.
    import threading

    paid = load(VALID / "order-paid.v1.json")
    again = {**paid, "occurred_at": "2026-11-02T09:59:59Z"}
    bad = {**paid, "event_id": "not-a-uuid"}
    text = "\n".join(json.dumps(e) for e in (paid, again, bad)) + "\n"
    if name == "events.json":
        text = json.dumps([paid, again, bad])
    fifo = tmp_path / name
    os.mkfifo(fifo)

    def write():
        with open(fifo, "w", encoding="utf-8") as pipe:
            pipe.write(text)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    result = []
    reader = threading.Thread(
        target=lambda: result.append(run("validate", "--format", fmt, fifo)), daemon=True
    )
    reader.start()
    reader.join(20)
    if reader.is_alive():  # free the reader: give its second open a writer that writes nothing
        with open(fifo, "w", encoding="utf-8"):
            pass
        reader.join(5)
        pytest.fail(f"orders validate --format {fmt} opened the pipe {name} twice")
    status, out, err = result[0]
    assert status == EXIT_INVALID
    assert "already the id of another event" in out
    assert "event_id" in out
    assert err.endswith(" problem(s) in 3 event(s)\n")


@pytest.mark.parametrize("fmt", ["text", "github", "json"])
def test_validate_names_a_file_whose_name_is_not_utf_8_without_a_traceback(tmp_path, fmt):
    # Two events with ids (the id check stores where each was seen), one of them invalid.
    paid = load(VALID / "order-paid.v1.json")
    bad = {**paid, "event_id": "not-a-uuid"}
    name = os.fsdecode(b"paid\xff.json")  # as the shell passes it: a lone surrogate in Python
    (tmp_path / name).write_text(json.dumps([paid, bad]), encoding="utf-8")
    status, out, err = run("validate", "--format", fmt, tmp_path / name)
    assert (status, err) == (EXIT_INVALID, "orders: 2 problem(s) in 2 event(s)\n")
    shown = json.loads(out)["problems"][0]["file"] if fmt == "json" else out
    assert "paid\\udcff.json" in shown
    out.encode("utf-8")  # printable as UTF-8: no lone surrogate left


@pytest.mark.parametrize("fmt", ["text", "github", "json"])
def test_validate_echoes_at_most_80_characters_of_a_bad_value(tmp_path, fmt):
    paid = load(VALID / "order-paid.v1.json")
    huge = {**paid, "event_id": "x" * 500, "data": {**paid["data"], "payment_id": "P" * 1_000_000}}
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(huge), encoding="utf-8")
    status, out, _ = run("validate", "--format", fmt, path)
    assert status == EXIT_INVALID
    assert "P" * 80 not in out and "x" * 80 not in out
    assert ("P" * 78 + "…") in out and ("x" * 79 + "…") in out
    assert len(out) < 3000
