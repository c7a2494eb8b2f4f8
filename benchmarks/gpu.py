"""Does the GPU earn its place? Everything measured in one run on one machine, printed as ratios.

    python benchmarks/gpu.py                     # on a GPU machine (< 8 minutes on one H100/H200)
    python benchmarks/gpu.py --smoke             # on a CPU box: prints "no GPU" and exits 0 (CI)
    python benchmarks/gpu.py --device cpu --smoke   # every stage, tiny, on the CPU (tests the script's logic)

(1) epoch: the seed GRU (gru_ar, hidden 64, 2 layers, batch 128) on Delhi: seconds per epoch on 1 CPU thread,
    on the GPU in fp32, bf16 and fp16, and the validation MSE each reaches after the same epochs from the same
    seed (a lower precision "trains as well" when within 2% of fp32); the Transformer in fp32 and bf16 likewise.
(2) sweeps with the driver's own code (sweeps/run_all.py): the default 90-trial grid on the embedded data with
    the resources the driver picks on this machine; then a fixed subset (20 trials, fixed epochs, no ASHA) at
    1, 4, 8 and 16 trials per GPU and CPU-only with every core: wall time, trial-epochs/s, GPU utilisation
    (NVML, or nvidia-smi). Five full 90-trial sweeps do not fit the time, hence the subset.
(3) the full profile (1000 epochs, patience 100) for one architecture, capped at what the time budget leaves.
Every sweep has a time cap; a capped sweep is interrupted like a Ctrl-C and says so. Results: a table on stdout
and JSON (rewritten after each stage) at --out.
Over 300 lines: one script for one rented GPU session; its three stages share the setup, the time budget and
the JSON they write, so they stay in one file read top to bottom.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

DELHI = REPO.parent / "shared" / "data" / "delhi_climate"
ARCHS = ("lstm_ar", "lstm_nar", "gru_ar", "gru_nar", "transformer")
PACKINGS = (1, 4, 8, 16)


# ------------------------------------------------------------------------------------------- utilities


class GpuSampler:
    """GPU utilisation (% of time a kernel ran) and memory, sampled every `period_s` while a stage runs."""

    def __init__(self, enabled: bool, period_s: float = 0.5):
        self.enabled, self.period_s = enabled, period_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._read = self._nvml_reader() if enabled else None

    @staticmethod
    def _nvml_reader():
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)

            def read() -> tuple[float, float]:
                util = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
                return float(util), pynvml.nvmlDeviceGetMemoryInfo(handle).used / 2**20

            read()
            return read
        except Exception:  # noqa: BLE001 - fall back to the command line tool
            if shutil.which("nvidia-smi") is None:
                return None

            def read_smi() -> tuple[float, float]:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                      "--format=csv,noheader,nounits", "-i", "0"],
                                     capture_output=True, text=True, timeout=5).stdout.split(",")
                return float(out[0]), float(out[1])

            return read_smi

    def __enter__(self) -> GpuSampler:
        if self._read is not None:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            with contextlib.suppress(Exception):  # a missed sample is not worth a failed benchmark
                self.samples.append(self._read())

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {"gpu_util_mean": None, "gpu_util_max": None, "gpu_mem_max_mib": None, "gpu_samples": 0}
        utils = [u for u, _ in self.samples]
        return {"gpu_util_mean": round(sum(utils) / len(utils), 1), "gpu_util_max": max(utils),
                "gpu_mem_max_mib": round(max(m for _, m in self.samples)), "gpu_samples": len(utils)}


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str))
    os.replace(tmp, path)


def say(text: str) -> None:
    print(text, flush=True)


# ------------------------------------------------------------------------------------------- (0) env


def environment(device: str) -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {"torch": torch.__version__, "python": platform.python_version(),
                           "cpu_count": os.cpu_count(), "device": device}
    if device == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
        env["bf16_supported"] = torch.cuda.is_bf16_supported()
        # The precision policy's premise, checked on this GPU: what dtype does autocast(bf16) run a GRU in?
        gru = torch.nn.GRU(4, 8, batch_first=True).cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out, _ = gru(torch.randn(2, 5, 4, device="cuda"))
        env["gru_output_dtype_under_bf16_autocast"] = str(out.dtype)
    return env


# ------------------------------------------------------------------------------------------ (1) epoch


def delhi_data(smoke: bool):
    from data_pipeline import DataConfig, SplitConfig, WindowConfig, build_windowed_data

    if smoke or not (DELHI / "DailyDelhiClimateTrain.csv").exists():
        import epoch_speed

        # --smoke checks the stage's logic, not a speed: 200 synthetic windows take a fraction of Delhi's epoch
        say("[1] --smoke: 200 synthetic windows" if smoke else f"[1] Delhi files not found under {DELHI}: synthetic "
            "data instead")
        return epoch_speed.synthetic_data(200 if smoke else 1100), "synthetic"
    cfg = DataConfig(path=str(DELHI / "DailyDelhiClimateTrain.csv"), test_path=str(DELHI / "DailyDelhiClimateTest.csv"))
    return build_windowed_data(cfg, WindowConfig(input=30, output=7), SplitConfig(), cache=False), "delhi_climate"


def _fit_run(name: str, data, device: str, precision: str, epochs: int, threads: int | None = None) -> dict:
    import epoch_speed
    import numpy as np
    import torch

    from models import TrainConfig, build, fit

    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        if name == "transformer":
            model = build(name, **data.shapes, seed=0, d_model=64, nhead=4, num_layers=2, dropout=0.1)
        else:
            model = epoch_speed.our_model(name, data)
        cfg = TrainConfig(epochs=epochs, batch_size=epoch_speed.BATCH, patience=10**6, device=device,
                          precision=precision, seed=0)
        r = fit(model, data, cfg)
    finally:
        torch.set_num_threads(old_threads)
    times = [h["epoch_time_s"] for h in r.history]
    return {"model": name, "device": device, "precision": precision, "threads": threads, "epochs": epochs,
            "s_per_epoch": round(float(np.mean(times[1:] if len(times) > 1 else times)), 5),
            "val_mse_last": round(r.history[-1]["val_mse"], 5), "best_val_mse": round(r.best_val_mse, 5)}


def checkpoint_cost(data, device: str, epochs: int) -> dict[str, float]:
    """Seconds to build one checkpoint's TrainState (a copy to the CPU) and torch.save it, beside the epoch's."""
    import io

    import epoch_speed
    import numpy as np
    import torch

    from models import TrainConfig, fit

    costs: list[float] = []

    def on_epoch(metrics: dict, end: Any) -> None:
        t0 = time.perf_counter()
        torch.save(end.snapshot().to_dict(), io.BytesIO())
        costs.append(time.perf_counter() - t0)

    r = fit(epoch_speed.our_model("gru_ar", data), data, TrainConfig(epochs=epochs, batch_size=epoch_speed.BATCH,
            patience=10**6, device=device, precision="fp32", seed=0), on_epoch=on_epoch)
    epoch_s = float(np.mean([h["epoch_time_s"] for h in r.history[1:]] or [r.history[0]["epoch_time_s"]]))
    ckpt_s = float(np.mean(costs[1:] or costs))
    return {"epoch_s": round(epoch_s, 5), "checkpoint_s": round(ckpt_s, 5), "ratio": round(ckpt_s / epoch_s, 3)}


def stage_epoch(device: str, smoke: bool, epochs: int) -> dict[str, Any]:
    data, source = delhi_data(smoke)
    gpu = device  # "cuda", or "cpu" standing in for it in --device cpu --smoke
    runs = [("gru_ar", "cpu", "fp32", 1), ("gru_ar", gpu, "fp32", None), ("gru_ar", gpu, "bf16", None),
            ("gru_ar", gpu, "fp16", None), ("transformer", gpu, "fp32", None), ("transformer", gpu, "bf16", None)]
    rows = []
    for name, dev, precision, threads in runs:
        rows.append(_fit_run(name, data, dev, precision, epochs, threads))
        r = rows[-1]
        say(f"[1] {name:<12} {dev:<5} {precision:<5} {r['s_per_epoch']:.4f} s/epoch, val MSE after {epochs} epochs "
            f"{r['val_mse_last']:.4f} (best {r['best_val_mse']:.4f})")

    def row(name: str, dev: str, precision: str) -> dict:
        return next(r for r in rows if (r["model"], r["device"], r["precision"]) == (name, dev, precision))

    cpu1, fp32 = row("gru_ar", "cpu", "fp32"), row("gru_ar", gpu, "fp32")
    out: dict[str, Any] = {"data": source, "train_windows": len(data.train), "epochs": epochs, "runs": rows,
                           "gru_speedup_gpu_fp32_over_cpu_1_thread": round(cpu1["s_per_epoch"] / fp32["s_per_epoch"], 2)}
    for name, low in (("gru_ar", "bf16"), ("gru_ar", "fp16"), ("transformer", "bf16")):
        ref, r = row(name, gpu, "fp32"), row(name, gpu, low)
        out[f"{name}_{low}"] = {
            "speedup_over_fp32": round(ref["s_per_epoch"] / r["s_per_epoch"], 2),
            "best_val_mse_rel_diff": round(r["best_val_mse"] / ref["best_val_mse"] - 1, 4),
            "trains_as_well": abs(r["best_val_mse"] / ref["best_val_mse"] - 1) <= 0.02,
        }
    out["gru_cpu_vs_gpu_fp32_best_val_mse_rel_diff"] = round(fp32["best_val_mse"] / cpu1["best_val_mse"] - 1, 4)
    out["checkpoint_cost"] = checkpoint_cost(data, gpu, 3 if smoke else 10)
    say(f"[1] checkpoint (snapshot + torch.save) {out['checkpoint_cost']}")
    return out


# ----------------------------------------------------------------------------------------- (2) sweeps


def sweep_counts(run_dir: Path) -> dict[str, Any]:
    """Trial-epochs and in-loop time from the trials' own records, which get every epoch (Ray's results only the
    epochs a trial reports at); works for interrupted sweeps too."""
    from models.trial_record import FINISHED, read_records

    records = read_records(run_dir) if (run_dir / "trials").is_dir() else []
    return {"trials_started": len(records), "trials_finished": sum(t.status == FINISHED for t in records),
            "trial_epochs": sum(t.epochs for t in records),
            "in_loop_train_s": round(sum(t.train_time_s for t in records), 1)}


def timed_sweep(runs: Path, name: str, args: list[str], cap_s: float, gpu: bool, min_epochs: int = 0
                ) -> dict[str, Any]:
    """One sweep through the main command, interrupted (as by Ctrl-C) if it runs past `cap_s`, but not before its
    trials have recorded `min_epochs` epochs (on a loaded machine Ray's start alone can take the whole cap)."""
    from sweeps.run_all import main

    ended = threading.Event()  # the sweep returned: nothing left to interrupt

    def interrupt() -> None:
        deadline = time.monotonic() + max(10 * cap_s, 180.0)
        while (not ended.is_set() and sweep_counts(runs / name)["trial_epochs"] < min_epochs
               and time.monotonic() < deadline):
            time.sleep(0.5)
        if not ended.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(max(cap_s, 1.0), interrupt)
    start = time.monotonic()
    with GpuSampler(gpu) as sampler:
        timer.start()
        try:
            code = main(["--runs-dir", str(runs), "--name", name, "--wandb-mode", "disabled", "--no-report", *args])
        except KeyboardInterrupt:
            code = 130
        finally:
            ended.set()
            timer.cancel()
    wall = time.monotonic() - start
    if code not in (0, 130):  # recorded, and the other stages still run
        say(f"[2] {name}: the sweep FAILED with exit code {code}")
    resources = json.loads((runs / name / "run.json").read_text()) if (runs / name / "run.json").exists() else {}
    counts = sweep_counts(runs / name)
    out = {"name": name, "args": args, "exit_code": code, "capped": code == 130, "cap_s": round(cap_s), "wall_s": round(wall, 1),
           **counts, "trial_epochs_per_s": round(counts["trial_epochs"] / wall, 2), **sampler.summary(),
           "resources_per_trial": resources.get("resources_per_trial")}
    capped = f" (CAPPED at {cap_s:.0f} s)" if out["capped"] else ""
    say(f"[2] {name:<14} {out['wall_s']:>6.1f} s{capped}: {out['trials_finished']}/{out['trials_started']} trials "
        f"finished, {out['trial_epochs']} trial-epochs, {out['trial_epochs_per_s']:.2f} trial-epochs/s, "
        f"GPU util mean {out['gpu_util_mean']}% max {out['gpu_util_max']}%")
    return out


# --smoke's subset: one recurrent architecture and the transformer, one trial each (the packing logic is the same
# for any number of trials; three such sweeps of all five cost the smoke test most of its time)
SMOKE_SUBSET = ("gru_ar", "transformer")


def subset_args(epochs: int, small: bool) -> list[str]:
    """A fixed, representative subset of the default grid: every architecture at its smallest and largest width,
    1 and 2 layers (20 trials), a fixed number of epochs, no ASHA, no early stopping. `small` (--smoke): the
    SMOKE_SUBSET architectures at one width and depth (2 trials)."""
    widths = "[32]" if small else "[32, 128]"
    layers = "[1]" if small else "[1, 2]"
    archs = SMOKE_SUBSET if small else ARCHS
    # norm fixed, no seed repeats, one block and no refit, so the subset stays 20 trials whatever the default grid searches
    args = ["--profile", "default", "--models", ",".join(archs), "sweep.scheduler=none", "sweep.final_seeds=0",
            "split.folds=1", "report.final_refit=false",
            f"train.epochs={epochs}", "train.patience=100000"]
    for arch in archs:
        width_key = "d_model" if arch == "transformer" else "hidden_size"
        args += [f"models.{arch}.{width_key}={{grid: {widths}}}", f"models.{arch}.num_layers={{grid: {layers}}}",
                 f"models.{arch}.dropout=0.1", f"models.{arch}.norm=none"]
    return args


def stage_sweeps(runs: Path, gpu: bool, smoke: bool, caps: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # The default grid (90 trials) with whatever resources the driver picks here.
    default_args = ["--profile", "smoke" if smoke else "default", "--models", ",".join(SMOKE_SUBSET if smoke else ARCHS)]
    out["default_grid"] = timed_sweep(runs, "default-grid", default_args, caps["default"], gpu)

    packings = (1, 2) if smoke else PACKINGS
    args = subset_args(2 if smoke else 8, small=smoke)
    rows = {}
    for k in packings:
        rows[f"{k}_per_gpu"] = timed_sweep(runs, f"pack-{k}", [*args, "--gpus-per-trial", f"{1 / k:.4f}",
                                                               "--cpus-per-trial", "1"], caps["packing"], gpu)
    rows["cpu_only"] = timed_sweep(runs, "cpu-only", [*args, "--gpus-per-trial", "0", "--cpus-per-trial", "1",
                                                      "train.device=cpu"], caps["packing"], gpu)
    single = rows[f"{packings[0]}_per_gpu"]["trial_epochs_per_s"] or float("nan")  # nan if that sweep failed
    for row in rows.values():
        row["throughput_over_1_per_gpu"] = round(row["trial_epochs_per_s"] / single, 2)
    out["subset"] = {"args": args, "packings": rows,
                     "fastest": max(rows, key=lambda k: rows[k]["trial_epochs_per_s"])}
    return out


def stage_full_profile(runs: Path, gpu: bool, smoke: bool, arch: str, cap_s: float) -> dict[str, Any]:
    # In --smoke too: the cap (an interrupt, as by Ctrl-C) is part of what the smoke run checks.
    args = ["--profile", "full", "--models", arch]
    row = timed_sweep(runs, f"full-{arch}", args, cap_s, gpu, min_epochs=1 if smoke else 0)
    row["model"] = arch
    return row


# -------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """`argv`: the arguments (default: the command line's); tests/test_benchmarks.py calls this in-process."""
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"],
                   help="auto: the GPU, or 'no GPU' and exit 0; cpu: run every stage on the CPU (logic check)")
    p.add_argument("--smoke", action="store_true", help="tiny stages (seconds)")
    p.add_argument("--budget-s", type=float, default=450, help="time budget for the whole script")
    p.add_argument("--epochs", type=int, default=40, help="epochs per run in stage (1)")
    p.add_argument("--full-model", default="gru_ar", choices=ARCHS, help="the architecture of stage (3)")
    p.add_argument("--stages", default="1,2,3", help="which stages to run, e.g. 1,2")
    p.add_argument("--out", type=Path, default=None,
                   help="default benchmarks/results/gpu.json; --smoke: a temporary folder")
    args = p.parse_args(argv)
    from results_path import results_path  # benchmarks/: one rule for every script
    args.out = results_path(args.out, "gpu.json", args.smoke)
    started = time.monotonic()

    import torch

    if args.device == "auto" and not torch.cuda.is_available():
        say("no GPU: nothing to measure here (python benchmarks/gpu.py --device cpu --smoke checks the logic)")
        return 0
    device = "cpu" if args.device == "cpu" else "cuda"
    gpu = device == "cuda"
    stages = {s.strip() for s in args.stages.split(",")}
    out = Path(args.out)
    results: dict[str, Any] = {"command": " ".join(["benchmarks/gpu.py", *argv]),
                               "env": environment(device), "smoke": args.smoke}
    say(f"[0] {results['env']}")
    write_json(out, results)

    if "1" in stages:
        results["epoch"] = stage_epoch(device, args.smoke, 3 if args.smoke else args.epochs)
        write_json(out, results)

    if stages & {"2", "3"}:
        import ray

        # A CPU stand-in for a GPU node: Ray is told of one GPU, so the packing logic runs as it would there.
        # On the GPU machine the GPU count is given too: the measurement must not hinge on Ray's detection.
        ray.init(include_dashboard=False, logging_level="WARNING", log_to_driver=False,
                 num_gpus=torch.cuda.device_count() if gpu else 1)
        results["ray_resources"] = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        # a trial stopped by the time cap may still be writing into its folder as the benchmark ends (seen under
        # load in CI): a leftover file must not fail the run
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
            runs = Path(tmp)
            if "2" in stages:
                caps = {"default": 60.0 if args.smoke else 150.0, "packing": 60.0 if args.smoke else 30.0}
                results["sweeps"] = stage_sweeps(runs, gpu, args.smoke, caps)
                write_json(out, results)
            if "3" in stages:
                left = args.budget_s - (time.monotonic() - started) - 15
                # --smoke: interrupted as soon as a first epoch is recorded (the interrupt path is what it checks)
                cap = 2.0 if args.smoke else max(30.0, min(240.0, left))
                results["full_profile"] = stage_full_profile(runs, gpu, args.smoke, args.full_model, cap)
                write_json(out, results)
        ray.shutdown()

    results["total_s"] = round(time.monotonic() - started, 1)
    write_json(out, results)
    summarize(results)
    say(f"written to {out}")
    return 0


def summarize(r: dict[str, Any]) -> None:
    env = r["env"]
    say(f"\n=== GPU benchmark: {env.get('gpu', 'CPU stand-in')}, {env['cpu_count']} cores, torch {env['torch']} ===")
    if "epoch" in r:
        e = r["epoch"]
        say(f"(1) seed GRU epoch on {e['data']}: GPU fp32 is {e['gru_speedup_gpu_fp32_over_cpu_1_thread']:.2f}x "
            f"one CPU thread (target >= 3x)")
        for key in ("gru_ar_bf16", "gru_ar_fp16", "transformer_bf16"):
            v = e[key]
            say(f"    {key}: {v['speedup_over_fp32']:.2f}x fp32's speed, best val MSE {v['best_val_mse_rel_diff']:+.2%} "
                f"vs fp32 -> {'trains as well' if v['trains_as_well'] else 'does NOT train as well'} (2% rule)")
    if "sweeps" in r:
        d = r["sweeps"]["default_grid"]
        say(f"(2) default grid with the driver's defaults {d['resources_per_trial']}: {d['wall_s']:.0f} s"
            f"{' (capped)' if d['capped'] else ''}, {d['trials_finished']}/{d['trials_started']} trials finished, "
            f"{d['trial_epochs_per_s']:.1f} trial-epochs/s (target <= 120 s)")
        for k, v in r["sweeps"]["subset"]["packings"].items():
            say(f"    subset {k:<10} {v['wall_s']:>6.1f} s{' (capped)' if v['capped'] else '':<9} "
                f"{v['trial_epochs_per_s']:>7.2f} trial-epochs/s = {v['throughput_over_1_per_gpu']:.2f}x 1 per GPU, "
                f"GPU util {v['gpu_util_mean']}%")
        say(f"    fastest: {r['sweeps']['subset']['fastest']}")
    if "full_profile" in r:
        f = r["full_profile"]
        say(f"(3) full profile, {f['model']}: {f['wall_s']:.0f} s{' (CAPPED)' if f['capped'] else ''}, "
            f"{f['trials_finished']}/{f['trials_started']} trials finished, {f['trial_epochs']} trial-epochs")


if __name__ == "__main__":
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    sys.exit(main())
