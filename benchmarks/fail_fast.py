"""How long does each "no network" path take before it gives up? (These bounds used to be test assertions; on a
shared machine they belong here.) Each case runs in this process against a local port nobody listens on.

    python benchmarks/fail_fast.py            # each case 3 times after a warm-up call, the slowest shown
    python benchmarks/fail_fast.py --smoke    # once

Results: a table (seconds vs the bound the behaviour promises) and benchmarks/results/fail_fast.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def cases() -> list[tuple[str, float, Callable[[], object]]]:
    from sweeps.engine.tracking import WandbPlan, create_wandb_report, plan_wandb

    def wandb_no_key() -> object:
        os.environ.pop("WANDB_API_KEY", None)
        return plan_wandb("auto")

    def wandb_key_no_server() -> object:
        os.environ["WANDB_API_KEY"], os.environ["WANDB_BASE_URL"] = "x" * 40, _dead_url()
        try:
            return plan_wandb("auto")
        finally:
            os.environ.pop("WANDB_API_KEY"), os.environ.pop("WANDB_BASE_URL")

    def wandb_report_offline() -> object:
        return create_wandb_report(WandbPlan("offline", "bench"), project="p", entity=None, group="g",
                                   ranking_rows=[])

    out = [("W&B plan, no key", 1.0, wandb_no_key), ("W&B plan, key but no server", 6.0, wandb_key_no_server),
           ("W&B Report while offline", 1.0, wandb_report_offline)]
    try:
        from huggingface_hub import constants

        from models.chronos import PretrainedUnavailable, load_chronos
        from sweeps.engine.hub import fetch_pretrained
    except ImportError:
        return out

    def expect_unavailable(fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            try:
                fn()
            except PretrainedUnavailable as err:
                return str(err)
            raise AssertionError("expected PretrainedUnavailable")
        return run

    def hub_unreachable() -> object:
        constants.ENDPOINT, offline, constants.HF_HUB_OFFLINE = _dead_url(), constants.HF_HUB_OFFLINE, False
        try:
            return fetch_pretrained("someone/no-such-model")
        finally:
            constants.HF_HUB_OFFLINE = offline

    out += [("Chronos-2 hub id, hub unreachable", 5.0, expect_unavailable(hub_unreachable)),
            ("Chronos-2 hub id, not in the hub cache", 10.0,
             expect_unavailable(lambda: load_chronos("someone/no-such-model")))]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/fail_fast.json; --smoke: a temporary folder")
    args = p.parse_args()
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "fail_fast.json", args.smoke)
    repeats = 1 if args.smoke else 3
    rows = []
    for name, bound, fn in cases():
        fn()  # untimed: the first call pays for imports (transformers, chronos), not for waiting
        worst = 0.0
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            worst = max(worst, time.perf_counter() - started)
        rows.append({"case": name, "slowest_s": round(worst, 3), "bound_s": bound, "within": worst < bound})
        print(f"  {name:<40} {worst:6.2f} s  (bound {bound:g} s){'' if worst < bound else '  OVER'}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"command": " ".join(["benchmarks/fail_fast.py", *sys.argv[1:]]),
                                          "cases": rows}, indent=2))


if __name__ == "__main__":
    main()
