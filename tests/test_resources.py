"""Trial sizing defaults and the driver's bounded wait for a cluster that is still growing."""

from __future__ import annotations

import pytest

from sweeps.engine.resources import ResourceError, default_trial_resources, missing, wait_for_resources


@pytest.mark.parametrize(
    ("cluster", "asked", "expected"),
    [
        ({"CPU": 16}, (None, None), (1.0, 0.0)),  # CPU-only: one trial per core
        ({"CPU": 16, "GPU": 1}, (None, None), (1.0, 0.0625)),  # one H100 node: 16 trials share the GPU
        ({"CPU": 4, "GPU": 1}, (None, None), (1.0, 0.25)),  # a g5.xlarge
        ({"CPU": 12, "GPU": 1}, (None, None), (1.0, 0.0833)),  # rounded down: 12 x 0.0833 <= 1
        ({"CPU": 8, "GPU": 8}, (None, None), (1.0, 1.0)),  # never more than one GPU per trial
        ({"CPU": 16, "GPU": 1}, (2.0, None), (2.0, 0.125)),  # 2 CPUs per trial: 8 trials share the GPU
        ({"CPU": 16, "GPU": 1}, (None, 0.5), (1.0, 0.5)),  # what the user asks for wins
    ],
)
def test_default_trial_resources(cluster, asked, expected):
    cpus, gpus = default_trial_resources(cluster, *asked)
    assert (cpus, gpus) == expected
    if gpus and asked[1] is None:
        assert gpus * (cluster["CPU"] // cpus) <= cluster["GPU"] + 1e-9


def test_missing_names_what_one_trial_lacks():
    assert missing({"CPU": 4, "GPU": 1}, 1, 0.25) is None
    assert missing({"CPU": 0}, 1, 0) == "1 CPU (Ray sees 0)"
    assert missing({}, 1, 0.5) == "1 CPU (Ray sees 0) and 0.5 GPU (Ray sees 0)"


def _growing(*snapshots):
    """The resources a cluster reports at successive polls (the last one repeats)."""
    seen = list(snapshots)

    def read():
        return seen.pop(0) if len(seen) > 1 else seen[0]

    return read


def test_the_wait_returns_once_a_worker_joins_and_withdraws_its_autoscaler_request():
    asked, said = [], []
    cluster = wait_for_resources(_growing({"CPU": 0}, {"CPU": 0}, {"CPU": 4, "GPU": 1}), 1, 0, timeout_s=5,
                                 poll_s=0.01, ask=asked.append, say=said.append)
    assert cluster == {"CPU": 4, "GPU": 1}
    assert asked == [{"CPU": 1}, None]
    assert "one trial needs 1 CPU (Ray sees 0)" in said[0] and "sweep.resource_wait_s" in said[0]
    assert "grown to 4 CPU + 1 GPU" in said[-1]


def test_the_wait_is_bounded_and_says_what_is_missing():
    asked = []
    with pytest.raises(ResourceError, match=r"still lacks 0.25 GPU \(Ray sees 0\).*resource_wait_s"):
        wait_for_resources(_growing({"CPU": 8}), 1, 0.25, timeout_s=0.05, poll_s=0.01, ask=asked.append,
                           say=lambda _: None)
    assert asked == [{"CPU": 1, "GPU": 0.25}, None]


def test_no_wait_when_one_trial_fits():
    asked = []
    assert wait_for_resources(_growing({"CPU": 2}), 1, 0, timeout_s=0, ask=asked.append) == {"CPU": 2}
    assert asked == []
