"""Timing: warm-up, then interleaved repeats, so every contender sees the same machine noise.

Each contender is a `prepare` function that does its untimed set-up (a fresh database file for
an append, an open connection for a read) and returns the thunk to time. Rounds rotate the
order of contenders, the garbage collector is collected before and paused during each timed
call (as `timeit` does), and the median of the repeats is what the results keep.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Thunk = Callable[[], Any]
Prepare = Callable[[], Thunk]
Check = Callable[[Any], None]


@dataclass
class Contender:
    """One way of doing the measured thing; `check` verifies what the timed call returned."""

    name: str
    prepare: Prepare
    check: Check | None = None


@dataclass
class Measurement:
    """The runs of one contender, in seconds."""

    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_json(self) -> dict[str, Any]:
        return {"median_s": self.median, "runs_s": self.runs}


class Scratch:
    """A fresh place (a database file, a schema) per timed run of a contender, made untimed.

    `fresh(tag)` releases the tag's previous place (closing what `hold` kept open on it) and
    makes a new one; subclasses say how a place is made (`_new`) and removed (`_remove`).
    """

    def __init__(self) -> None:
        self.places: dict[str, Any] = {}
        self.held: dict[str, Any] = {}

    def fresh(self, tag: str) -> Any:
        """A new, empty place for the next run of `tag`."""
        self._release(tag)
        self.places[tag] = place = self._new(tag)
        return place

    def hold(self, tag: str, resource: Any) -> Any:
        """Keep `resource` (a connection, a store, an application) open until the next run."""
        self.held[tag] = resource
        return resource

    def close(self) -> None:
        for tag in {*self.places, *self.held}:
            self._release(tag)

    def _release(self, tag: str) -> None:
        resource = self.held.pop(tag, None)
        if resource is not None:
            resource.close()
        place = self.places.pop(tag, None)
        if place is not None:
            self._remove(place)

    def _new(self, tag: str) -> Any:
        raise NotImplementedError

    def _remove(self, place: Any) -> None:
        raise NotImplementedError


def time_once(prepare: Prepare, check: Check | None) -> float:
    """Prepare (untimed), run (timed), check (untimed); returns seconds."""
    thunk = prepare()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        result = thunk()
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    if check is not None:
        check(result)
    return elapsed / 1e9


def compare(
    label: str, contenders: list[Contender], *, warmup: int, repeats: int, progress: Progress
) -> dict[str, Measurement]:
    """Time every contender `warmup + repeats` times, interleaved; keep the last `repeats`."""
    results = {c.name: Measurement() for c in contenders}
    rounds = warmup + repeats
    for round_no in range(rounds):
        shift = round_no % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            seconds = time_once(contender.prepare, contender.check)
            if round_no >= warmup:
                results[contender.name].runs.append(seconds)
        progress.tick(label, round_no + 1, rounds)
    progress.done(label, results)
    return results


class Progress:
    """Progress lines on stderr, so a long run shows where it is."""

    def __init__(self, total_steps: int, *, stream: Any = None, quiet: bool = False) -> None:
        self.total_steps = total_steps
        self.step = 0
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.started = time.perf_counter()

    def tick(self, label: str, round_no: int, rounds: int) -> None:
        if self.quiet or not self.stream.isatty():
            return
        self.stream.write(
            f"\r[{self.step + 1}/{self.total_steps}] {label}: round {round_no}/{rounds}"
        )
        self.stream.flush()

    def done(self, label: str, results: dict[str, Measurement]) -> None:
        self.step += 1
        if self.quiet:
            return
        medians = ", ".join(f"{name} {format_seconds(m.median)}" for name, m in results.items())
        clock = time.perf_counter() - self.started
        prefix = "\r" if self.stream.isatty() else ""
        self.stream.write(
            f"{prefix}[{self.step}/{self.total_steps}] {label} ({clock:.0f} s): {medians}\n"
        )
        self.stream.flush()


def format_seconds(seconds: float) -> str:
    """A duration in the unit that reads best, to about three digits: `84.2 ms`, `1.21 s`."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            value = seconds / scale
            if value >= 100:
                return f"{value:.0f} {unit}"
            return f"{value:.1f} {unit}" if value >= 10 else f"{value:.2f} {unit}"
    raise AssertionError("unreachable")
