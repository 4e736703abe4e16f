"""The `orders` command: validate event payloads and derive an order's state, for people and CI.

    orders validate PATH... [--format text|github|json]  # exit 0 valid, 1 invalid, 2 usage/I/O
    orders derive PATH... [--upto VERSION] [--snapshot FILE] [--as-snapshot]
    orders demo [--db PATH]                          # order #1001 through the whole design
    orders query --db PATH get|search|as-of ...      # read the read model (read-only)
    orders replay --db PATH                          # rebuild the read model from the events
    orders serve [--db PATH] [--port 8080]           # the HTTP API on 127.0.0.1 (extra `http`)
    orders relay --db PATH --bus kafka://HOST:PORT   # the outbox relay alone (extra `kafka`)
    orders project --db PATH --bus kafka://...       # the projector alone; `notify`: the notifier

A PATH holds one JSON event, a JSON array of events, or JSON Lines (one event per line,
always so for `*.jsonl`); a directory stands for its `*.json` and `*.jsonl` files; `-` reads
standard input. `validate` prints one line per problem:
`path[:line]: event <event_id or index>: <JSON pointer>: <reason>`.

Each command is a subparser whose `handler` gets the parsed arguments and returns the exit
status: adding a command is writing an `_add_<name>(subparsers)` and calling it in
`build_parser()`.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from order_service.contract import reports
from order_service.contract.reports import Finding
from order_service.contract.validation import bounded, event_problems
from order_service.model.derivation import HistoryBroken, derive_state
from order_service.model.integrity import FoldError
from order_service.model.snapshots import Snapshot, take_snapshot
from order_service.model.upcasting import upcast

Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]
"""A subcommand's handler: the parsed arguments, the output and error streams; the exit status."""

__all__ = ["EXIT_INVALID", "EXIT_OK", "EXIT_USAGE", "Loaded", "build_parser", "main", "read_events"]

EXIT_OK = 0
"""Every payload valid; the state derived."""
EXIT_INVALID = 1
"""A payload invalid, a file not JSON, a broken stream or a history that breaks a rule."""
EXIT_USAGE = 2
"""Wrong arguments, a file that cannot be read, or an output closed by its reader."""


_TOO_DEEP = "nested too deeply to parse"
# json.loads raises RecursionError, not JSONDecodeError, on arrays or objects nested ~1000 deep.


class Unreadable(Exception):
    """A path that cannot be read at all (missing, a directory, not UTF-8...)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """One entry read from a path: an event payload, or why it is not JSON.

    Attributes:
        path: The path as given (`-` for standard input).
        line: The line number in a JSON Lines file, else None.
        index: The entry's position in its file, from 0.
        payload: The parsed JSON (None if malformed).
        error: Why the entry is not JSON, or None.
    """

    path: str
    line: int | None
    index: int
    payload: Any = None
    error: str | None = None

    @property
    def where(self) -> str:
        """`path` or `path:line`."""
        return self.path if self.line is None else f"{self.path}:{self.line}"

    @property
    def label(self) -> str:
        """The event's `event_id` if it has a string one, else its index in the file."""
        event_id = self.payload.get("event_id") if isinstance(self.payload, dict) else None
        return event_id if isinstance(event_id, str) and event_id else str(self.index)


def read_events(path: str, stdin: TextIO | None = None) -> list[Loaded]:
    """The entries of one path: a JSON object, a JSON array, or JSON Lines.

    Raises:
        Unreadable: the path cannot be read as UTF-8 text.
    """
    try:
        if path == "-":
            text = (stdin or sys.stdin).read()
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise Unreadable(f"cannot read {path}: {reason}") from None
    text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark: allowed, and not JSON
    if not text.strip():
        return [Loaded(path, None, 0, error="empty: no events")]
    if path.endswith((".jsonl", ".ndjson")):
        return _json_lines(path, text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as whole:
        if whole.msg != "Extra data" or len(_lines(text.strip())) < 2:
            return [Loaded(path, whole.lineno, 0, error=f"malformed JSON: {_describe(whole)}")]
        return _json_lines(path, text)
    except RecursionError:
        return [Loaded(path, None, 0, error=f"malformed JSON: {_TOO_DEEP}")]
    if document == []:  # as empty as an empty file: a CI check that read nothing must not pass
        return [Loaded(path, None, 0, error="empty: no events")]
    if isinstance(document, list):
        return [Loaded(path, None, index, payload) for index, payload in enumerate(document)]
    return [Loaded(path, None, 0, document)]


def _lines(text: str) -> list[str]:
    # JSON Lines end at "\n" (and "\r\n") only: U+2028, U+0085 and the other characters
    # str.splitlines() also breaks at are legal, unescaped, inside a JSON string.
    return [line.removesuffix("\r") for line in text.split("\n")]


def iter_events(path: str) -> Iterator[tuple[Loaded, int]]:
    """The entries of one path, as `read_events` gives them, each with a key to recall it.

    A JSON Lines file (`*.jsonl`, `*.ndjson`) is read line by line, so memory does not grow
    with its length; its keys are byte offsets of lines. Any other path is one JSON document,
    read whole; its keys are indexes.

    Raises:
        Unreadable: the path cannot be read as UTF-8 text (possibly after some entries).
    """
    if not _streamed(path):
        yield from ((entry, entry.index) for entry in read_events(path))
        return
    try:
        with open(path, "rb") as file:  # binary: a line ends at b"\n" only, as in `_lines`
            yield from _stream_lines(path, file)
    except OSError as error:
        raise Unreadable(f"cannot read {path}: {error.strerror or error}") from None


def _streamed(path: str) -> bool:
    return path != "-" and path.endswith((".jsonl", ".ndjson"))


def _rereadable(path: str) -> bool:
    """True for a regular file: reading it again gives the same text (not `-`, not a pipe)."""
    return path != "-" and Path(path).is_file()


def _stream_lines(path: str, file: BinaryIO) -> Iterator[tuple[Loaded, int]]:
    index = offset = 0
    for number, raw in enumerate(file, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:  # the message `read_events` gives, whole-file offset
            raise Unreadable(f"cannot read {path}: {_decode_error(error, offset)}") from None
        if number == 1:
            line = line.removeprefix("\ufeff")  # a UTF-8 byte order mark: allowed, and not JSON
        line = line.removesuffix("\n").removesuffix("\r")
        if line.strip():
            yield _json_line(path, number, index, line), offset
            index += 1
        offset += len(raw)
    if index == 0:
        yield Loaded(path, None, 0, error="empty: no events"), 0


def _reread_line(path: str, offset: int) -> Any:
    with open(path, "rb") as file:
        file.seek(offset)
        return json.loads(file.readline().decode("utf-8").removeprefix("\ufeff"))


def _decode_error(error: UnicodeDecodeError, offset: int) -> str:
    # str(error) with positions counted from the file's start, as reading it whole counts them.
    start, end = error.start + offset, error.end + offset
    what = (
        f"byte 0x{error.object[error.start]:02x} in position {start}"
        if end - start == 1
        else f"bytes in position {start}-{end - 1}"
    )
    return f"'{error.encoding}' codec can't decode {what}: {error.reason}"


def _json_lines(path: str, text: str) -> list[Loaded]:
    lines = [(number, line) for number, line in enumerate(_lines(text), 1) if line.strip()]
    return [_json_line(path, number, index, line) for index, (number, line) in enumerate(lines)]


def _json_line(path: str, number: int, index: int, line: str) -> Loaded:
    try:
        return Loaded(path, number, index, json.loads(line))
    except json.JSONDecodeError as error:
        return Loaded(path, number, index, error=f"malformed JSON: {_describe(error)}")
    except RecursionError:
        return Loaded(path, number, index, error=f"malformed JSON: {_TOO_DEEP}")


def _describe(error: json.JSONDecodeError) -> str:
    return f"{error.msg} (column {error.colno})"


def _expand(paths: Sequence[str]) -> list[str]:
    """A directory stands for its *.json and *.jsonl files, recursively, in name order."""
    files = []
    for path in paths:
        if path != "-" and Path(path).is_dir():
            found = sorted(
                str(file)
                for file in Path(path).rglob("*")
                if file.suffix in (".json", ".jsonl") and file.is_file()
            )
            if not found:
                raise Unreadable(f"cannot read {path}: a directory without *.json or *.jsonl files")
            files.extend(found)
        else:
            files.append(path)
    return files


def _read_all(paths: Sequence[str], err: TextIO) -> list[Loaded] | None:
    entries: list[Loaded] = []
    try:
        for path in _expand(paths):
            entries.extend(read_events(path))
    except Unreadable as error:
        print(f"orders: {error}", file=err)
        return None
    return entries


class FirstSeen:
    """Where each event id of one file was first seen, to find an id reused by another event.

    The same event twice is not a problem (the store keeps it once); two different events
    under one id are: the store would refuse the second. Files are checked one by one: a
    folder of fixtures often holds variants of one event, each in its own file. Each id is
    kept with where it was seen and the key that brings its event back (`recall`), in a
    private temporary SQLite database with a bounded page cache: memory stays bounded however
    long the file, and only an id seen twice costs reading its first event again.
    """

    def __init__(self, recall: Callable[[int], Any] | None) -> None:
        """`recall(key)` brings an event back; None keeps each event's JSON here instead (a
        pipe cannot be read again)."""
        self.recall = recall
        self.db = sqlite3.connect("")  # "": a private temporary database, deleted on close
        self.db.execute(
            "CREATE TABLE seen (event_id BLOB PRIMARY KEY, location TEXT, key INTEGER,"
            " payload TEXT) WITHOUT ROWID"
        )

    def close(self) -> None:
        """Drop the ids (and the temporary file)."""
        self.db.close()

    def reused(self, entry: Loaded, key: int) -> str | None:
        """Where an earlier, different event with `entry`'s id is; None if there is none."""
        event_id = entry.payload.get("event_id") if isinstance(entry.payload, dict) else None
        if not isinstance(event_id, str):
            return None
        # As bytes and escaped text: an id or a path may hold lone surrogates, which UTF-8 has not.
        id_bytes = event_id.encode("utf-8", "surrogatepass")
        where = bounded(entry.where, limit=None)
        kept = None if self.recall is not None else json.dumps(entry.payload)
        added = self.db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", (id_bytes, where, key, kept)
        )
        if added.rowcount:
            return None
        location, first, payload = self.db.execute(
            "SELECT location, key, payload FROM seen WHERE event_id = ?", (id_bytes,)
        ).fetchone()
        earlier = json.loads(payload) if self.recall is None else self.recall(first)
        return None if earlier == entry.payload else location


def _entries_and_ids(path: str) -> tuple[Iterable[tuple[Loaded, int]], FirstSeen]:
    """One path's entries with their keys, and the record of ids that can recall them."""
    if _streamed(path):  # a pipe cannot be read again: its events are kept, not re-read
        recall = (lambda offset: _reread_line(path, offset)) if _rereadable(path) else None
        return iter_events(path), FirstSeen(recall)
    held = list(iter_events(path))  # one JSON document: read whole, recalled from memory
    return held, FirstSeen(lambda index: held[index][0].payload)


def _entry_findings(entry: Loaded, key: int, seen: FirstSeen) -> list[Finding]:
    at = (entry.path, entry.line, entry.index)
    if entry.error is not None:
        return [Finding(*at, pointer=None, message=entry.error)]
    found = [
        Finding(*at, problem.pointer, problem.reason, event=entry.label)
        for problem in event_problems(entry.payload)
    ]
    first = seen.reused(entry, key)
    if first is not None:
        message = f"already the id of another event ({first}); an event id names one event"
        found.append(Finding(*at, "/event_id", message, event=entry.label))
    return found


def _findings(entries: Sequence[Loaded]) -> list[Finding]:
    findings: list[Finding] = []
    for _path, group in itertools.groupby(entries, key=lambda entry: entry.path):
        in_file = list(group)
        seen = FirstSeen([entry.payload for entry in in_file].__getitem__)
        try:
            for entry in in_file:
                findings += _entry_findings(entry, entry.index, seen)
        finally:
            seen.close()
    return findings


def _validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Streamed: a JSON Lines file is never held whole. The text format prints each problem when
    # found; github and json print at the end (json wraps them all in one document).
    streamed = args.format == "text"
    findings: list[Finding] = []
    problems = events = 0
    try:
        for path in _expand(args.paths):
            entries, seen = _entries_and_ids(path)
            try:
                for entry, key in entries:
                    events += 1
                    for finding in _entry_findings(entry, key, seen):
                        problems += 1
                        if streamed:
                            print(finding.text, file=out)
                        else:
                            findings.append(finding)
            finally:
                seen.close()
    except Unreadable as error:
        out.flush()
        print(f"orders: {error}", file=err)
        return EXIT_USAGE
    if not streamed:
        reports.FORMATS[args.format](findings, events, out)
    reports.summarize(problems, events, out, err)
    return EXIT_INVALID if problems else EXIT_OK


def _derive(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    snapshot = None
    if args.snapshot is not None:
        try:
            snapshot = Snapshot.from_dict(json.loads(Path(args.snapshot).read_text("utf-8")))
        except (OSError, UnicodeDecodeError) as error:
            print(f"orders: cannot read snapshot {args.snapshot}: {error}", file=err)
            return EXIT_USAGE
        except json.JSONDecodeError as error:
            print(f"orders: snapshot {args.snapshot}: malformed JSON: {_describe(error)}", file=err)
            return EXIT_INVALID
        except RecursionError:
            print(f"orders: snapshot {args.snapshot}: malformed JSON: {_TOO_DEEP}", file=err)
            return EXIT_INVALID
        except FoldError as error:
            print(f"orders: snapshot {args.snapshot}: {error.rule}", file=err)
            return EXIT_INVALID
        if args.upto is not None and args.upto < snapshot.version:
            print(
                f"orders: --upto {args.upto} is before the snapshot's version "
                f"{snapshot.version}: derive without the snapshot",
                file=err,
            )
            return EXIT_USAGE
    entries = _read_all(args.paths, err)
    if entries is None:
        return EXIT_USAGE
    problems = _findings(entries)
    if problems:
        for problem in problems:
            print(problem.text, file=err)
        print("orders: nothing derived from invalid payloads", file=err)
        return EXIT_INVALID
    try:
        upcast_entries = [(entry, upcast(entry.payload)) for entry in entries]
    except FoldError as error:
        print(f"orders: {error}", file=err)
        return EXIT_INVALID
    if args.upto is not None:
        upcast_entries = [pair for pair in upcast_entries if pair[1]["version"] <= args.upto]
    try:
        state = derive_state([event for _, event in upcast_entries], snapshot)
    except FoldError as error:
        print(f"orders: {error}", file=err)
        return EXIT_INVALID
    except HistoryBroken as broken:
        for problem in broken.problems:
            entry = upcast_entries[problem.index][0]
            where = f"{problem.pointer}: " if problem.pointer else ""
            print(f"{entry.where}: event {entry.label}: {where}{problem.rule}", file=err)
        print(f"orders: {len(broken.problems)} rule(s) broken: nothing derived", file=err)
        return EXIT_INVALID
    if state is None:
        print("orders: no events to derive a state from", file=err)
        return EXIT_INVALID
    result = take_snapshot(state).to_dict() if args.as_snapshot else state.to_dict()
    print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    return EXIT_OK


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version (1, 2, 3 ...)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version (1, 2, 3 ...)")
    return value


def _add_validate(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "validate",
        help="check event payloads against the JSON Schemas",
        description=(
            "Validate each event against schemas/order-event.schema.json, then against the "
            "event model for the one rule no schema can state (one currency per order). Prints "
            "'path[:line]: event <id or index>: <JSON pointer>: <reason>' per problem. "
            "Exit 0 if all are valid, 1 if any is invalid or not JSON, 2 on usage or I/O errors."
        ),
    )
    command.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a JSON, JSON array or JSON Lines file, a directory of them, or -",
    )
    command.add_argument(
        "--format",
        choices=sorted(reports.FORMATS),
        default="text",
        help="text (default); github: annotations on the lines that hold each problem; json",
    )
    command.set_defaults(handler=_validate)


def _add_derive(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "derive",
        help="fold events into the order's state and print it as JSON",
        description=(
            "Validate, upcast, check the history's rules, then fold the events in the order "
            "given; print the state as JSON. Exit 1 with one line per problem if the stream "
            "is broken or breaks a rule."
        ),
    )
    command.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a JSON, JSON array or JSON Lines file, a directory of them, or -",
    )
    command.add_argument(
        "--upto", type=_positive, metavar="VERSION", help="the state as it was at VERSION"
    )
    command.add_argument(
        "--snapshot",
        metavar="FILE",
        help="start from this snapshot (JSON, as --as-snapshot prints)",
    )
    command.add_argument(
        "--as-snapshot", action="store_true", help="print a snapshot of the state instead"
    )
    command.set_defaults(handler=_derive)


def _database_command(name: str, module: str = "cli_database") -> Handler:
    """The handler `name` of `module` (in `entrypoints`), imported when its command runs."""

    def handler(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        loaded = importlib.import_module(f"order_service.entrypoints.{module}")
        run: Handler = getattr(loaded, name)
        return run(args, out, err)

    return handler


def _add_database_commands(subparsers: Any) -> None:
    """`demo`, `replay` and `query`: the running design (handlers in `cli_database`)."""
    demo = subparsers.add_parser(
        "demo", help="run order #1001's story through every box of the design"
    )
    demo.add_argument(
        "--db",
        help="write database to create: a file, or postgresql://HOST/DB?schema=NAME "
        "(default: a temporary file)",
    )
    demo.set_defaults(handler=_database_command("run_demo_command"))

    replay = subparsers.add_parser("replay", help="rebuild the read model from the events")
    replay.add_argument("--db", required=True, help="the write database (file or URL)")
    replay.add_argument("--read-db", help="the read database (default: <db stem>.read.db)")
    replay.set_defaults(handler=_database_command("run_replay_command"))

    query = subparsers.add_parser("query", help="read orders from the read model (read-only)")
    query.add_argument("--db", required=True, help="the write database (file or URL)")
    query.add_argument("--read-db", help="the read database (default: <db stem>.read.db)")
    kinds = query.add_subparsers(dest="query", required=True)
    get = kinds.add_parser("get", help="one order's summary")
    get.add_argument("order_id")
    search = kinds.add_parser("search", help="orders matching every filter, newest first")
    search.add_argument("--customer", help="customer id, e.g. C-0042")
    search.add_argument("--status", help="placed, paid, shipped, delivered, cancelled or refunded")
    search.add_argument("--sku", help="orders with a line of this product")
    search.add_argument("--placed-from", help="placed at or after this date or date-time")
    search.add_argument("--placed-before", help="placed before this date or date-time")
    search.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    as_of = kinds.add_parser("as-of", help="an order as it was, folded from its events")
    as_of.add_argument("order_id")
    as_of.add_argument("--version", type=int, help="up to this version")
    as_of.add_argument("--at", help="up to this time (RFC 3339)")
    query.set_defaults(handler=_database_command("run_query_command"))


def _add_subscriber_commands(subparsers: Any) -> None:
    """`status` and `redrive`: the subscribers' positions and parked events."""
    status = subparsers.add_parser(
        "status",
        help="each subscriber's position, lag and parked events (exit 1 if any is parked)",
    )
    status.add_argument("--db", required=True, help="the write database (file or URL)")
    status.add_argument("--read-db", help="the read database (default: <db stem>.read.db)")
    status.add_argument("--json", action="store_true", help="print JSON, as GET /health does")
    status.set_defaults(handler=_database_command("run_status_command"))

    redrive = subparsers.add_parser(
        "redrive", help="apply a subscriber's parked events again, after a fix"
    )
    redrive.add_argument("--db", required=True, help="the write database (file or URL)")
    redrive.add_argument("--read-db", help="the read database (default: <db stem>.read.db)")
    redrive.add_argument(
        "--subscriber", required=True, help="whose parked events: order_summary, shipping_notifier"
    )
    redrive.set_defaults(handler=_database_command("run_redrive_command"))

    prune = subparsers.add_parser(
        "prune-keys", help="forget the command ids (Idempotency-Keys) past their lifetime"
    )
    prune.add_argument("--db", required=True, help="the write database (file or URL)")
    prune.add_argument(
        "--hours",
        type=int,
        help="forget the ids of commands carried out more than this many hours ago "
        "(default: the store's lifetime, 24)",
    )
    prune.set_defaults(handler=_database_command("run_prune_keys_command"))


def _add_bus_commands(subparsers: Any) -> None:
    """`relay`, `project` and `notify`: the diagram's processes apart, over Kafka."""
    bus_help = "the Kafka bus: kafka://HOST:PORT (topic order-events) or kafka://HOST:PORT/TOPIC"
    relay = subparsers.add_parser(
        "relay",
        help="publish the outbox to Kafka until Ctrl-C (or SIGTERM)",
        description="Publish each stored event to Kafka, marking it sent once acknowledged.",
    )
    relay.add_argument("--db", required=True, help="the write database (file or URL)")
    relay.add_argument("--bus", required=True, help=bus_help)
    relay.add_argument(
        "--interval",
        type=_seconds,
        default=0.01,
        metavar="SECONDS",
        help="how long the idle relay waits between polls of the outbox (default 0.01)",
    )
    relay.set_defaults(handler=_database_command("run_relay_command", "cli_kafka"))
    for name, subscriber, what in (
        ("project", "order_summary", "the projector: keep the read model current"),
        ("notify", "shipping_notifier", "the notifier: send a message per shipped order"),
    ):
        command = subparsers.add_parser(
            name,
            help=f"{what}, from Kafka, until Ctrl-C (or SIGTERM)",
            description=f"Run {what.split(':')[0]} as its own process, in the consumer group "
            "<topic>.<subscriber>; several processes in one group share the partitions.",
        )
        command.add_argument("--db", required=True, help="the write database (file or URL)")
        command.add_argument("--read-db", help="the read database (default: <db stem>.read.db)")
        command.add_argument("--bus", required=True, help=bus_help)
        command.add_argument(
            "--subscriber",
            default=subscriber,
            help=f"which subscriber: order_summary or shipping_notifier (default {subscriber})",
        )
        command.add_argument(
            "--session-timeout",
            type=_seconds,
            default=10.0,
            metavar="SECONDS",
            help="how soon the group hands a dead process's partitions on (default 10; the "
            "broker allows 6 to 1800 by default)",
        )
        command.add_argument(
            "--poll-timeout",
            type=_seconds,
            default=0.2,
            metavar="SECONDS",
            help="how long one poll waits for records (default 0.2)",
        )
        command.set_defaults(handler=_database_command("run_project_command", "cli_kafka"))


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:  # FastAPI and uvicorn are the optional extra `http`: the other commands work without
        from order_service.entrypoints import http_api
    except ModuleNotFoundError as error:
        print(
            f"orders: serve needs the `http` extra ({error.name} is not installed): "
            "pip install -e '.[http]' (or `make setup`)",
            file=err,
        )
        return EXIT_USAGE
    timings = {"wait_timeout": args.wait_timeout, "relay_interval": args.relay_interval}
    given = {name: value for name, value in timings.items() if value is not None}
    return http_api.serve(args.db, port=args.port, err=err, bus=args.bus, **given)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r}: give more than 0 and at most 60 seconds")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1 to 65535)")
    return int(text)


def _add_serve(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "serve",
        help="serve the HTTP API on 127.0.0.1, with the relay and projector in the background",
        description="Serve the commands and queries over HTTP until Ctrl-C (or SIGTERM).",
    )
    command.add_argument("--db", help="the write database (default: a temporary file)")
    command.add_argument("--port", type=_port, default=8080, help="TCP port (default 8080)")
    command.add_argument(
        "--wait-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long GET /orders/{id}?min_version=N waits for the read model (default 2)",
    )
    command.add_argument(
        "--relay-interval",
        type=_seconds,
        metavar="SECONDS",
        help="how long the idle relay sleeps between polls of the outbox (default 0.01)",
    )
    command.add_argument(
        "--bus",
        metavar="URL",
        help="publish to Kafka (kafka://HOST:PORT[/TOPIC]) instead of the embedded bus; the "
        "subscribers then run apart (`orders project`, `orders notify`)",
    )
    command.set_defaults(handler=_serve)


def build_parser() -> argparse.ArgumentParser:
    """The `orders` parser, one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="orders", description="Validate order events and derive order state."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_validate(subparsers)
    _add_derive(subparsers)
    _add_database_commands(subparsers)
    _add_subscriber_commands(subparsers)
    _add_serve(subparsers)
    _add_bus_commands(subparsers)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run `orders` with `argv` (default: the command line) and return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help (0) and on usage errors (2)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    # The design's warnings and errors (a snapshot not trusted, an event parked, a worker
    # that died) reach the error stream as one line each, at once.
    reducer_log = logging.getLogger("order_service")
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("orders: %(message)s"))
    reducer_log.addHandler(handler)
    try:
        status: int = args.handler(args, out, err)
        out.flush()  # a reader that went away shows here, not as a traceback at exit
        return status
    except BrokenPipeError:
        # `orders validate ... | head`: the reader closed the pipe. Stop quietly, as a tool
        # killed by SIGPIPE would, and keep the interpreter's final flush from failing too.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_USAGE
    finally:
        reducer_log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
