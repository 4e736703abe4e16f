"""The benchmark's definitions: where snapshots sit, how a target is judged, what is built."""

from __future__ import annotations

import pytest
from order_service.events import parse_event
from order_service_bench import run, workload


@pytest.mark.parametrize(
    ("n_events", "policy", "version"),
    [(10_000, "latest", 10_000), (10_000, "every", 9_901), (100, "every", 1), (10, "every", 0)],
)
def test_a_snapshot_sits_at_the_head_or_99_events_behind_it(n_events, policy, version):
    assert run.snapshot_version(n_events, policy, 100) == version


def _measurements(ours_full: float, peer_full: float) -> dict:
    replay = {"ours_full": ours_full, "peer_full": peer_full, "bare_fold": 1.0}
    replay |= {"ours_snapshot_latest": 0.001}
    append = {"ours": 1.0, "peer": 1.0}
    read_model = {"ours_rebuild": 1.0, "bare_upserts": 1.0}
    cells = lambda group: {k: {"median_s": v, "runs_s": [v, v]} for k, v in group.items()}  # noqa: E731
    return {
        "replay": {"100": cells(replay)},
        "append": {"100": cells(append)},
        "read_model": cells(read_model),
    }


def test_a_target_is_met_only_on_its_side_of_the_threshold():
    met = {t["id"]: t["met"] for t in run.evaluate(_measurements(1.0, 5.0), 100)}
    assert met["replay_vs_peer"] is True
    assert met["replay_vs_bare"] is True
    missed = {t["id"]: t["met"] for t in run.evaluate(_measurements(1.6, 5.0), 100)}
    assert missed["replay_vs_peer"] is False
    assert missed["replay_vs_bare"] is False


def test_the_workload_is_a_valid_order_of_exactly_n_events():
    events = workload.order_events("7", 12)
    assert [e["version"] for e in events] == list(range(1, 13))
    assert [e["event_type"] for e in events] == (
        ["OrderPlaced"] + ["OrderItemAdded"] * 9 + ["OrderPaid", "OrderShipped"]
    )
    for event in events:
        parse_event(event)
    assert events[-2]["data"]["amount"]["amount"] == workload.expected_summary(12)["total"]


def test_the_workload_refuses_an_order_too_short_for_its_four_kinds_of_event():
    with pytest.raises(ValueError, match="at least 4 events, not 3"):
        workload.order_events("7", 3)


def test_the_round_by_round_range_pairs_the_timings_of_each_round():
    measurements = _measurements(1.0, 5.0)
    measurements["replay"]["100"]["ours_full"]["runs_s"] = [1.0, 2.0]
    measurements["replay"]["100"]["peer_full"]["runs_s"] = [5.0, 4.0]
    (target,) = [t for t in run.evaluate(measurements, 100) if t["id"] == "replay_vs_peer"]
    assert target["round_ratios"] == [2.0, 5.0]
    assert target["ratio"] == 5.0
